using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using RabbitMQ.Client.Exceptions;
using Tally.Server.Bus.RabbitMq;
using Tally.Server.Observability;
using Tally.Server.Options;
using Tally.Server.Storage;

namespace Tally.Server.Bus;

/// <summary>
/// Starts what the configured transport and role need, decided when the host starts (so that every configuration
/// source counts): the in-process workers (<c>InProcess</c>, which requires <c>Role=all</c>), or for <c>RabbitMq</c>
/// the publisher (api, all), the consumers and the inbox upkeep (worker, all), and the queue-depth poll for /metrics.
/// </summary>
public sealed class BusHost(
    IServiceProvider services,
    IOptions<BusOptions> bus,
    IOptions<RabbitMqOptions> rabbit,
    IOptions<RoleOptions> role,
    TallyMetrics metrics,
    TimeProvider time,
    ILogger<BusHost> logger) : IHostedService, IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, int> _depths = new(StringComparer.Ordinal);
    private readonly List<Task> _loops = [];
    private Task? _setup;
    private RabbitMqCommandConsumer? _consumer;
    private InProcessCommandBus? _inProcess;
    private int _disposed;

    public static bool IsRabbitMq(BusOptions options) => options.Transport.Equals("RabbitMq", StringComparison.OrdinalIgnoreCase);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!IsRabbitMq(bus.Value))
        {
            _inProcess = services.GetRequiredService<InProcessCommandBus>();
            await _inProcess.StartAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        metrics.ObserveQueueDepths("rabbitmq", () => _depths);
        _setup = Task.Run(() => SetUpRabbitMqAsync(_stopping.Token), CancellationToken.None);
        // Start-up waits a while for the broker, then goes on; the setup keeps trying, and /ready says so meanwhile.
        await Task.WhenAny(_setup, Task.Delay(rabbit.Value.StartupWait, time, cancellationToken)).ConfigureAwait(false);
    }

    private async Task SetUpRabbitMqAsync(CancellationToken cancellationToken)
    {
        try
        {
            var connection = services.GetRequiredService<RabbitMqConnection>();
            await connection.ConnectAsync(cancellationToken).ConfigureAwait(false);
            if (role.Value.ServesApi)
            {
                await services.GetRequiredService<RabbitMqCommandBus>().StartAsync(cancellationToken).ConfigureAwait(false);
            }
            if (role.Value.RunsWorkers)
            {
                _consumer = services.GetRequiredService<RabbitMqCommandConsumer>();
                await _consumer.StartAsync(cancellationToken).ConfigureAwait(false);
                _loops.Add(PurgeInboxAsync(cancellationToken));
            }
            _loops.Add(PollDepthsAsync(connection, cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            logger.LogCritical(ex, "Setting up the RabbitMQ transport failed");
            throw;
        }
    }

    // Queue depth for /metrics (tally_bus_queue_depth{transport="rabbitmq",queue=...}): a passive declare reads it.
    private async Task PollDepthsAsync(RabbitMqConnection connection, CancellationToken cancellationToken)
    {
        RabbitMQ.Client.IChannel? channel = null;
        using var timer = new PeriodicTimer(rabbit.Value.DepthPollInterval, time);
        do
        {
            try
            {
                if (channel is not { IsOpen: true } && connection.Connection is { IsOpen: true } open)
                {
                    channel = await open.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                if (channel is { IsOpen: true })
                {
                    foreach (var queue in connection.Names.CommandQueues.Append(connection.Names.DeadLetterQueue))
                    {
                        var ok = await channel.QueueDeclarePassiveAsync(queue, cancellationToken).ConfigureAwait(false);
                        _depths[queue] = (int)ok.MessageCount;
                    }
                }
            }
            catch (Exception ex) when (ex is RabbitMQClientException or OperationInterruptedException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                logger.LogDebug(ex, "Reading the queue depths failed");
            }
        }
        while (await WaitAsync(timer, cancellationToken).ConfigureAwait(false));
        if (channel is not null)
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Inbox rows outlive every possible redelivery long before the retention ends (a message dies at its deadline).
    private async Task PurgeInboxAsync(CancellationToken cancellationToken)
    {
        var inbox = services.GetRequiredService<ICommandInbox>();
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), time);
        while (await WaitAsync(timer, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                while (await inbox.PurgeAsync(time.GetUtcNow() - rabbit.Value.InboxRetention, 1000).ConfigureAwait(false) == 1000 && !cancellationToken.IsCancellationRequested)
                {
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Purging the command inbox failed; retrying later");
            }
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // What started is held from StartAsync: the container may already be disposed when the host stops.
        if (_inProcess is not null)
        {
            await _inProcess.StopAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        if (_consumer is not null)
        {
            await _consumer.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        if (Volatile.Read(ref _disposed) == 0)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }
        await Task.WhenAll(_loops.Append(_setup ?? Task.CompletedTask)).WaitAsync(TimeSpan.FromSeconds(5), time, CancellationToken.None)
            .ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }
        _stopping.Cancel();
        _stopping.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Runs a hosted service only in the roles that do that work (e.g. the hold-expiry sweep on workers).</summary>
public sealed class WorkerRoleHostedService<TService>(IServiceProvider services, IOptions<RoleOptions> role) : IHostedService
    where TService : class, IHostedService
{
    private TService? _inner;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!role.Value.RunsWorkers)
        {
            return Task.CompletedTask;
        }
        _inner = ActivatorUtilities.CreateInstance<TService>(services);
        return _inner.StartAsync(cancellationToken);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_inner is not null)
        {
            await _inner.StopAsync(cancellationToken).ConfigureAwait(false);
            (_inner as IDisposable)?.Dispose();
        }
    }
}

/// <summary>/ready's view of the bus: the in-process queue's fill, or whether the RabbitMQ connection is up.</summary>
internal sealed class BusHealthCheck(IServiceProvider services, IOptions<BusOptions> options, IOptions<RoleOptions> role) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (BusHost.IsRabbitMq(options.Value))
        {
            var connection = services.GetRequiredService<RabbitMqConnection>();
            if (!connection.IsOpen)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("rabbitmq: not connected"));
            }
            if (role.Value.ServesApi && !services.GetRequiredService<RabbitMqCommandBus>().IsReady)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("rabbitmq: publisher not ready"));
            }
            return Task.FromResult(HealthCheckResult.Healthy($"rabbitmq: connected ({role.Value.Role.ToString().ToLowerInvariant()})"));
        }
        var bus = services.GetRequiredService<InProcessCommandBus>();
        var depth = bus.QueueDepth;
        var capacity = options.Value.Capacity;
        return Task.FromResult(depth >= capacity * 0.9
            ? HealthCheckResult.Degraded($"in-process queue {depth}/{capacity}")
            : HealthCheckResult.Healthy($"in-process queue {depth}/{capacity}"));
    }
}
