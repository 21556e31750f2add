using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Tally.Server.Bus;
using Tally.Server.Bus.RabbitMq;

namespace Tally.RabbitMq.Tests.Infrastructure;

/// <summary>A test's own client of the broker: publishes command messages by hand and collects their replies.</summary>
public sealed class RawBroker : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly ConcurrentDictionary<string, ConcurrentQueue<(string Body, string? Error)>> _replies = new();

    private RawBroker(IConnection connection, IChannel channel)
    {
        _connection = connection;
        _channel = channel;
    }

    public static async Task<RawBroker> ConnectAsync(string uri)
    {
        var connection = await new ConnectionFactory { Uri = new Uri(uri) }.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var broker = new RawBroker(connection, channel);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            var id = delivery.BasicProperties.CorrelationId ?? "";
            string? error = delivery.BasicProperties.Headers?.TryGetValue("tally-error", out var e) == true ? Encoding.UTF8.GetString((byte[])e!) : null;
            broker._replies.GetOrAdd(id, _ => new()).Enqueue((Encoding.UTF8.GetString(delivery.Body.Span), error));
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync("amq.rabbitmq.reply-to", autoAck: true, consumer);
        return broker;
    }

    public IChannel Channel => _channel;

    /// <summary>Publishes <paramref name="command"/> as the api would, with the given id and deadline.</summary>
    public async Task PublishAsync(string queuePrefix, object command, Guid id, DateTimeOffset deadline, string? typeName = null, byte[]? body = null)
    {
        var type = command.GetType();
        var properties = new BasicProperties
        {
            MessageId = id.ToString("D"),
            CorrelationId = id.ToString("D"),
            Type = typeName ?? CommandTypes.NameOf(type),
            ContentType = "application/json",
            Persistent = true,
            ReplyTo = "amq.rabbitmq.reply-to",
            Headers = new Dictionary<string, object?>
            {
                ["tally-deadline"] = deadline.ToUnixTimeMilliseconds(),
                ["tally-sent-at"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            },
        };
        await _channel.BasicPublishAsync("", new RabbitMqNames(queuePrefix).QueueOf(type), mandatory: true, properties, body ?? BusJson.Serialize(command, type));
    }

    /// <summary>Waits until <paramref name="count"/> replies to <paramref name="id"/> arrived; returns them.</summary>
    public async Task<IReadOnlyList<(string Body, string? Error)>> RepliesAsync(Guid id, int count, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        var key = id.ToString("D");
        while (DateTime.UtcNow < until)
        {
            if (_replies.TryGetValue(key, out var queue) && queue.Count >= count)
            {
                return [.. queue];
            }
            await Task.Delay(20);
        }
        return _replies.TryGetValue(key, out var some) ? [.. some] : [];
    }

    public async Task<uint> MessageCountAsync(string queue) => (await _channel.QueueDeclarePassiveAsync(queue)).MessageCount;

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }

    public static string Ms(TimeSpan span) => ((long)span.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
}
