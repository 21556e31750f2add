using System.Collections.Concurrent;
using RabbitMQ.Client.Exceptions;

namespace Tally.Server.Bus.RabbitMq;

/// <summary>
/// Starts the RabbitMQ transport: the connection, the publisher (where the api runs), the consumers and the inbox
/// upkeep (where the workers run), and the queue-depth poll for /metrics.
/// </summary>
public sealed class RabbitMqBusHost(
    RabbitMqConnection connection,
    ICommandInbox inbox,
    IOptions<RabbitMqOptions> rabbit,
    TallyMetrics metrics,
    TimeProvider time,
    ILogger<RabbitMqBusHost> logger,
    RabbitMqCommandBus? publisher = null,
    RabbitMqCommandConsumer? consumer = null) : IHostedService, IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, int> _depths = new(StringComparer.Ordinal);
    private readonly List<Task> _loops = [];
    private Task? _setup;
    private bool _consuming;
    private int _disposed;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        metrics.ObserveQueueDepths("rabbitmq", () => _depths);
        _setup = Task.Run(() => SetUpAsync(_stopping.Token), CancellationToken.None);
        // Start-up waits a while for the broker, then goes on; the setup keeps trying, and /ready says so meanwhile.
        await Task.WhenAny(_setup, Task.Delay(rabbit.Value.StartupWait, time, cancellationToken)).ConfigureAwait(false);
    }

    private async Task SetUpAsync(CancellationToken cancellationToken)
    {
        try
        {
            await connection.ConnectAsync(cancellationToken).ConfigureAwait(false);
            if (publisher is not null)
            {
                await publisher.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            if (consumer is not null)
            {
                _consuming = true;
                await consumer.StartAsync(cancellationToken).ConfigureAwait(false);
                _loops.Add(PurgeInboxAsync(cancellationToken));
            }
            _loops.Add(PollDepthsAsync(cancellationToken));
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
    private async Task PollDepthsAsync(CancellationToken cancellationToken)
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
        if (_consuming)
        {
            await consumer!.StopAsync(cancellationToken).ConfigureAwait(false);
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
