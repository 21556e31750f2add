using System.Collections.Concurrent;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Tally.Server.Bus.RabbitMq;

/// <summary>
/// The worker side of the RabbitMQ transport: one consumer per area queue, with prefetch, running up to that many
/// handlers at once (so the storage writer can group their commits). A message is acked only after its handler
/// returned, which is after its commit; the handler's store call records the command id in the inbox in the same
/// transaction, so a redelivery (after a crash before the ack) answers with the stored outcome and applies
/// nothing. An expired message is acked and dropped unprocessed. A message that cannot be read, or whose handler
/// keeps throwing, is rejected without requeue into the dead-letter queue.
/// </summary>
public sealed class RabbitMqCommandConsumer : IAsyncDisposable
{
    private readonly RabbitMqConnection _connection;
    private readonly CommandDispatcher _dispatcher;
    private readonly RabbitMqOptions _options;
    private readonly TallyMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<RabbitMqCommandConsumer> _logger;
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly List<(IChannel Channel, string Tag)> _consumers = [];
    private int _inFlight;

    public RabbitMqCommandConsumer(RabbitMqConnection connection, CommandDispatcher dispatcher, IOptions<RabbitMqOptions> options, TallyMetrics metrics, TimeProvider time, ILogger<RabbitMqCommandConsumer> logger)
    {
        _connection = connection;
        _dispatcher = dispatcher;
        _options = options.Value;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    public int InFlight => Volatile.Read(ref _inFlight);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var connection = await _connection.ConnectAsync(RabbitMqLink.Consuming, cancellationToken).ConfigureAwait(false);
        foreach (var queue in _connection.Names.CommandQueues)
        {
            var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: false, publisherConfirmationTrackingEnabled: false, consumerDispatchConcurrency: (ushort)Math.Min(_options.Prefetch, ushort.MaxValue)),
                cancellationToken).ConfigureAwait(false);
            await channel.BasicQosAsync(prefetchSize: 0, prefetchCount: (ushort)Math.Min(_options.Prefetch, ushort.MaxValue), global: false, cancellationToken).ConfigureAwait(false);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, delivery) => HandleAsync(channel, delivery);
            var tag = await channel.BasicConsumeAsync(queue, autoAck: false, consumer, cancellationToken).ConfigureAwait(false);
            _consumers.Add((channel, tag));
            _logger.LogInformation("Consuming {Queue} with prefetch {Prefetch}", queue, _options.Prefetch);
        }
    }

    /// <summary>Stops taking messages, then waits (bounded) for the handlers running to ack theirs.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var (channel, tag) in _consumers)
        {
            try
            {
                await channel.BasicCancelAsync(tag, noWait: false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RabbitMQClientException or OperationInterruptedException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                _logger.LogDebug(ex, "Cancelling a consumer failed");
            }
        }
        var until = _time.GetUtcNow() + TimeSpan.FromSeconds(10);
        while (InFlight > 0 && _time.GetUtcNow() < until && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task HandleAsync(IChannel channel, BasicDeliverEventArgs delivery)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            await HandleCoreAsync(channel, delivery).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task HandleCoreAsync(IChannel channel, BasicDeliverEventArgs delivery)
    {
        var properties = delivery.BasicProperties;
        var type = CommandTypes.Find(properties.Type);
        object? command = null;
        if (type is not null)
        {
            try
            {
                command = BusJson.Deserialize(delivery.Body.Span, type);
            }
            catch (JsonException ex)
            {
                _logger.LogWarning(ex, "A {Type} message could not be read", properties.Type);
            }
        }
        if (command is null || !Guid.TryParse(properties.MessageId, out var commandId))
        {
            _logger.LogError("Dead-lettering an unreadable message (type {Type}, id {MessageId})", properties.Type, properties.MessageId);
            _metrics.CommandFinished(command ?? "unreadable", "dead_lettered");
            await SettleAsync(() => channel.BasicRejectAsync(delivery.DeliveryTag, requeue: false)).ConfigureAwait(false);
            return;
        }

        if (delivery.Redelivered)
        {
            // Another consumer took it and went away before its ack; the inbox makes running it again safe.
            _logger.LogWarning("Command {CommandType} {CommandId} redelivered", type!.Name, commandId);
        }
        var now = _time.GetUtcNow();
        var deadline = Headers.GetLong(properties.Headers, Headers.Deadline) is { } deadlineMs
            ? DateTimeOffset.FromUnixTimeMilliseconds(deadlineMs)
            : now + TimeSpan.FromSeconds(10);
        if (now >= deadline)
        {
            // Its caller got 504 at the deadline: drop it unprocessed.
            _metrics.CommandFinished(command, "expired");
            _metrics.DeadlineDropped("worker");
            await SettleAsync(() => channel.BasicAckAsync(delivery.DeliveryTag, multiple: false)).ConfigureAwait(false);
            return;
        }
        if (Headers.GetLong(properties.Headers, Headers.SentAt) is { } sentMs)
        {
            _metrics.CommandWaited(now - DateTimeOffset.FromUnixTimeMilliseconds(sentMs));
        }

        var traceParent = Headers.GetString(properties.Headers, Headers.TraceParent);
        var context = new CommandContext(commandId, deadline, traceParent) { MayRedeliver = true };
        object? result;
        try
        {
            result = await _dispatcher.DispatchAsync(command, context, CancellationToken.None).ConfigureAwait(false);
        }
        catch (CommandDeadlineExceededException)
        {
            // The database batch dropped its write unstarted (its deadline passed): nothing was applied, and the
            // caller learns it at once instead of at the end of its wait.
            _failures.TryRemove(properties.MessageId!, out _);
            _metrics.CommandFinished(command, "expired");
            await ReplyAsync(channel, properties, body: [], error: Headers.ExpiredError).ConfigureAwait(false);
            await SettleAsync(() => channel.BasicAckAsync(delivery.DeliveryTag, multiple: false)).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (Storage.DatabaseFailures.IsUnavailable(ex))
        {
            // The database is down or failing over, or the commit's outcome is unknown: the caller answers 503 at
            // once, and its retry (same idempotency key, a new command) finds the transfer or applies it, once.
            _failures.TryRemove(properties.MessageId!, out _);
            _logger.LogWarning(ex, "Command {CommandType} {CommandId}: the database is unavailable", type!.Name, commandId);
            _metrics.CommandFinished(command, "unavailable");
            await ReplyAsync(channel, properties, body: [], error: Headers.UnavailableError).ConfigureAwait(false);
            await SettleAsync(() => channel.BasicAckAsync(delivery.DeliveryTag, multiple: false)).ConfigureAwait(false);
            return;
        }
        catch (Exception ex)
        {
            var attempts = _failures.AddOrUpdate(properties.MessageId!, 1, (_, n) => n + 1);
            if (attempts < _options.MaxAttempts)
            {
                _logger.LogWarning(ex, "Command {CommandType} {CommandId} failed (attempt {Attempt}); requeueing it", type!.Name, commandId, attempts);
                _metrics.CommandFinished(command, "failed");
                await SettleAsync(() => channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true)).ConfigureAwait(false);
                return;
            }
            _failures.TryRemove(properties.MessageId!, out _);
            _logger.LogError(ex, "Command {CommandType} {CommandId} failed {Attempts} times; dead-lettering it", type!.Name, commandId, attempts);
            _metrics.CommandFinished(command, "dead_lettered");
            await ReplyAsync(channel, properties, body: [], error: "The command failed and was set aside.").ConfigureAwait(false);
            await SettleAsync(() => channel.BasicRejectAsync(delivery.DeliveryTag, requeue: false)).ConfigureAwait(false);
            return;
        }
        _failures.TryRemove(properties.MessageId!, out _);
        _metrics.CommandFinished(command, "handled");
        // Reply, then ack: a crash in between redelivers the message, and the inbox answers it again unchanged.
        await ReplyAsync(channel, properties, BusJson.Serialize(result!, CommandTypes.ResultTypeOf(type!)), error: null).ConfigureAwait(false);
        await SettleAsync(() => channel.BasicAckAsync(delivery.DeliveryTag, multiple: false)).ConfigureAwait(false);
    }

    private async Task ReplyAsync(IChannel channel, IReadOnlyBasicProperties request, byte[] body, string? error)
    {
        if (string.IsNullOrEmpty(request.ReplyTo))
        {
            return;
        }
        var properties = new BasicProperties
        {
            CorrelationId = request.CorrelationId ?? request.MessageId,
            ContentType = "application/json",
        };
        if (error is not null)
        {
            properties.Headers = new Dictionary<string, object?> { [Headers.Error] = error };
        }
        try
        {
            await channel.BasicPublishAsync(exchange: "", routingKey: request.ReplyTo, mandatory: false, basicProperties: properties, body: body).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RabbitMQClientException or OperationInterruptedException or IOException or ObjectDisposedException)
        {
            // The caller will time out; the outcome stays in the inbox for a redelivery.
            _logger.LogWarning(ex, "Replying to command {CommandId} failed", request.MessageId);
        }
    }

    // An ack or reject on a channel that was lost is moot: the broker requeues what was not acked.
    private async Task SettleAsync(Func<ValueTask> settle)
    {
        try
        {
            await settle().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RabbitMQClientException or OperationInterruptedException or IOException or ObjectDisposedException)
        {
            _logger.LogWarning(ex, "Settling a delivery failed; the broker will redeliver it");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (channel, _) in _consumers)
        {
            try
            {
                await channel.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RabbitMQClientException or OperationInterruptedException or IOException or ObjectDisposedException)
            {
                _logger.LogDebug(ex, "Closing a consumer channel failed");
            }
        }
        _consumers.Clear();
    }
}
