using System.Collections.Concurrent;
using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Tally.Server.Bus.RabbitMq;

/// <summary>
/// The api side of the RabbitMQ transport. A command becomes a persistent message on its area's durable, bounded
/// queue, published with a publisher confirm: a nack (the queue is full, <c>reject-publish</c>) is a 503 at once,
/// and so is a broker that cannot be reached, so a caller never gets a 200 for a command the broker did not take.
/// The message expires at the request's deadline and carries the W3C trace context. The worker's reply comes back
/// over direct reply-to on the channel that published, matched by the command id.
/// </summary>
public sealed class RabbitMqCommandBus : ICommandBus, IAsyncDisposable
{
    private readonly RabbitMqConnection _connection;
    private readonly BusOptions _options;
    private readonly RabbitMqOptions _rabbit;
    private readonly TallyMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<RabbitMqCommandBus> _logger;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<Reply>> _pending = new(StringComparer.Ordinal);
    private readonly System.Threading.Channels.Channel<PublisherChannel> _pool;
    private readonly List<PublisherChannel> _channels = [];
    private readonly ConcurrentDictionary<string, long> _fullUntil = new(StringComparer.Ordinal);
    private volatile bool _started;

    /// <summary>After a nack, further writes to that queue are refused without a broker round trip for this long.</summary>
    private static readonly TimeSpan s_fullWindow = TimeSpan.FromMilliseconds(50);

    private readonly IAccountCache _cache;
    private readonly bool _apiOnly;

    public RabbitMqCommandBus(RabbitMqConnection connection, IOptions<BusOptions> options, IOptions<RabbitMqOptions> rabbit, IOptions<RoleOptions> role, IAccountCache cache, TallyMetrics metrics, TimeProvider time, ILogger<RabbitMqCommandBus> logger)
    {
        _cache = cache;
        _apiOnly = role.Value.Role == TallyRole.Api;
        _connection = connection;
        _options = options.Value;
        _rabbit = rabbit.Value;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _pool = System.Threading.Channels.Channel.CreateBounded<PublisherChannel>(_rabbit.PublisherChannels);
    }

    public bool IsReady => _started && _connection.IsOpen;

    /// <summary>Opens the publisher channels, each with publisher confirms and its direct reply-to consumer.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var connection = await _connection.ConnectAsync(cancellationToken).ConfigureAwait(false);
        connection.ConnectionShutdownAsync += OnConnectionLostAsync;
        for (var i = 0; i < _rabbit.PublisherChannels; i++)
        {
            var channel = new PublisherChannel(this);
            await channel.OpenAsync(connection, cancellationToken).ConfigureAwait(false);
            _channels.Add(channel);
            _pool.Writer.TryWrite(channel);
        }
        _started = true;
    }

    public async Task<TResult> SendAsync<TResult>(ICommand<TResult> command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        var type = command.GetType();
        if (!IsReady)
        {
            _metrics.CommandFinished(command, "unavailable");
            throw new CommandBusUnavailableException(_options.RetryAfterSeconds);
        }

        var now = _time.GetUtcNow();
        var deadline = Admission.Deadline.Within(now, _options.Deadline);
        var id = Guid.NewGuid().ToString("D");
        using var activity = CommandDispatcher.ActivitySource.StartActivity("publish " + type.Name, ActivityKind.Producer);
        activity?.SetTag("messaging.system", "rabbitmq");
        activity?.SetTag("messaging.message.id", id);
        var headers = new Dictionary<string, object?>
        {
            [Headers.Deadline] = deadline.ToUnixTimeMilliseconds(),
            [Headers.SentAt] = now.ToUnixTimeMilliseconds(),
        };
        if (Activity.Current is { } current)
        {
            headers[Headers.TraceParent] = current.Id;
            if (current.TraceStateString is { } state)
            {
                headers[Headers.TraceState] = state;
            }
        }
        var properties = new BasicProperties
        {
            MessageId = id,
            CorrelationId = id,
            Type = CommandTypes.NameOf(type),
            ContentType = "application/json",
            Persistent = true,
            ReplyTo = Headers.DirectReplyTo,
            Expiration = Math.Max(1, (long)(deadline - now).TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            Timestamp = new AmqpTimestamp(now.ToUnixTimeSeconds()),
            Headers = headers,
        };
        var body = BusJson.Serialize(command, type);
        var started = _time.GetTimestamp();
        var reply = new TaskCompletionSource<Reply>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        try
        {
            // The confirm and the work overlap: the broker confirms a persistent message once it is on disk, but
            // a worker may take it and reply first, and a reply proves the broker had it. So wait for whichever
            // comes first; a refusal (full queue, broker gone) still answers 503 or 504 as soon as it is known.
            var publish = PublishAsync(command, properties, body, deadline, cancellationToken);
            if (await Task.WhenAny(publish, reply.Task).ConfigureAwait(false) == publish)
            {
                await publish.ConfigureAwait(false);
            }
            else
            {
                // Replied before confirmed: the reply is the outcome; a late publish fault changes nothing.
                _ = publish.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            Reply answer;
            try
            {
                // A worker that took the command just before the deadline still answers: wait a little longer for it.
                var wait = deadline - _time.GetUtcNow() + _rabbit.ReplyGrace;
                answer = await reply.Task.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _metrics.CommandFinished(command, "expired");
                throw new CommandDeadlineExceededException();
            }
            _metrics.CommandReplied(command, _time.GetElapsedTime(started));
            if (answer.Error == Headers.ExpiredError)
            {
                _metrics.CommandFinished(command, "expired");
                throw new CommandDeadlineExceededException();
            }
            if (answer.Error == Headers.UnavailableError)
            {
                _metrics.CommandFinished(command, "unavailable");
                throw new CommandStoreUnavailableException();
            }
            if (answer.Error is { } error)
            {
                throw new CommandFailedException(error);
            }
            var result = (TResult)BusJson.Deserialize(answer.Body, typeof(TResult))!;
            // The worker invalidated its own process's cache at commit; an api-only process does the same for
            // the accounts the write changed before it answers, so that no read after the write is stale here.
            if (_apiOnly && result is Outcome<TransferResult> { Value: { Replayed: false } transfer })
            {
                // Both at once: Redis gets them in one write, and the caller waits one round trip, not two.
                await Task.WhenAll(_cache.InvalidateAsync(transfer.Transfer.FromUserId), _cache.InvalidateAsync(transfer.Transfer.ToUserId)).ConfigureAwait(false);
            }
            return result;
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private async Task PublishAsync(object command, BasicProperties properties, byte[] body, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var queue = _connection.Names.QueueOf(command.GetType());
        ThrowIfRecentlyFull(command, queue);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Max(deadline - _time.GetUtcNow(), TimeSpan.FromMilliseconds(1)));
        PublisherChannel? channel = null;
        try
        {
            channel = await _pool.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
            // Checked again: the queue may have been found full while this write waited for a channel.
            ThrowIfRecentlyFull(command, queue);
            await channel.PublishAsync(queue, properties, body, timeout.Token).ConfigureAwait(false);
        }
        catch (PublishException ex) when (!ex.IsReturn)
        {
            // The broker refused the message: the queue is at x-max-length (reject-publish).
            _fullUntil[queue] = _time.GetTimestamp() + (long)(s_fullWindow.TotalSeconds * _time.TimestampFrequency);
            _metrics.CommandFinished(command, "rejected");
            throw new CommandQueueFullException(_options.RetryAfterSeconds);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // No confirm before the deadline; the message, if the broker has it, expires unprocessed at the deadline.
            _metrics.CommandFinished(command, "expired");
            throw new CommandDeadlineExceededException();
        }
        catch (Exception ex) when (ex is RabbitMQClientException or OperationInterruptedException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            _logger.LogWarning(ex, "Publishing a command failed; the broker did not take it");
            _metrics.CommandFinished(command, "unavailable");
            throw new CommandBusUnavailableException(_options.RetryAfterSeconds, ex);
        }
        finally
        {
            if (channel is not null)
            {
                _pool.Writer.TryWrite(channel);
            }
        }
    }

    // The broker just said this queue is full: shed at once rather than ask it again.
    private void ThrowIfRecentlyFull(object command, string queue)
    {
        if (_fullUntil.TryGetValue(queue, out var until) && _time.GetTimestamp() < until)
        {
            _metrics.CommandFinished(command, "rejected");
            throw new CommandQueueFullException(_options.RetryAfterSeconds);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    // Replies to commands in flight went to channels that are gone: their callers learn it at once.
    private Task OnConnectionLostAsync(object sender, ShutdownEventArgs args)
    {
        foreach (var (_, pending) in _pending)
        {
            pending.TrySetException(new CommandDeadlineExceededException());
        }
        return Task.CompletedTask;
    }

    private Task OnReplyAsync(BasicDeliverEventArgs delivery)
    {
        var correlationId = delivery.BasicProperties.CorrelationId;
        if (correlationId is not null && _pending.TryRemove(correlationId, out var pending))
        {
            var error = Headers.GetString(delivery.BasicProperties.Headers, Headers.Error);
            pending.TrySetResult(new Reply(delivery.Body.ToArray(), error));
        }
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _started = false;
        _pool.Writer.TryComplete();
        foreach (var channel in _channels)
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }
        foreach (var (_, pending) in _pending)
        {
            pending.TrySetException(new CommandBusUnavailableException(_options.RetryAfterSeconds));
        }
    }

    private sealed record Reply(byte[] Body, string? Error);

    /// <summary>One publishing channel: confirms on, its own direct reply-to consumer; used by one publish at a time.</summary>
    private sealed class PublisherChannel(RabbitMqCommandBus bus) : IAsyncDisposable
    {
        private IConnection? _connection;
        private IChannel? _channel;

        public async Task OpenAsync(IConnection connection, CancellationToken cancellationToken)
        {
            _connection = connection;
            var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true),
                cancellationToken).ConfigureAwait(false);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, delivery) => bus.OnReplyAsync(delivery);
            // Direct reply-to: consume the pseudo-queue with auto-ack on the channel that publishes.
            await channel.BasicConsumeAsync(Headers.DirectReplyTo, autoAck: true, consumer, cancellationToken).ConfigureAwait(false);
            _channel = channel;
        }

        public async Task PublishAsync(string queue, BasicProperties properties, byte[] body, CancellationToken cancellationToken)
        {
            // A channel the broker closed (not a lost connection, which recovery handles) is replaced.
            if (_channel is { IsClosed: true } && _connection is { IsOpen: true } connection)
            {
                await DisposeChannelAsync().ConfigureAwait(false);
                await OpenAsync(connection, cancellationToken).ConfigureAwait(false);
            }
            var channel = _channel ?? throw new InvalidOperationException("The publisher channel is not open.");
            await channel.BasicPublishAsync(exchange: "", routingKey: queue, mandatory: true, basicProperties: properties, body: body, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        private async Task DisposeChannelAsync()
        {
            if (_channel is { } channel)
            {
                _channel = null;
                try
                {
                    await channel.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is RabbitMQClientException or OperationInterruptedException or IOException or ObjectDisposedException)
                {
                    // Already gone.
                }
            }
        }

        public async ValueTask DisposeAsync() => await DisposeChannelAsync().ConfigureAwait(false);
    }
}
