using StackExchange.Redis;
using Tally.Server.Features.Notifications;

namespace Tally.Server.Cache;

/// <summary>
/// Notification fan-out across instances: a committed notification is PUBLISHed on one channel, and every
/// instance (this one included) pushes what it receives to its own sockets through <see cref="NotificationHub"/>.
/// A /ws client on instance A thus gets a transfer made through instance B. When Redis is unreachable, a
/// notification still reaches this instance's sockets (and the database has it for GET /notifications).
/// </summary>
public sealed class RedisNotificationPublisher(NotificationHub hub, RedisConnection redis, ILogger<RedisNotificationPublisher> logger)
    : BackgroundService, INotificationPublisher
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    /// <summary>True once this instance listens to the channel.</summary>
    public bool IsSubscribed { get; private set; }

    private RedisChannel Channel => RedisChannel.Literal(redis.Prefix + "notifications");

    public async Task PublishAsync(NotificationPush push)
    {
        ArgumentNullException.ThrowIfNull(push);
        if (redis.Database is { } db)
        {
            try
            {
                await db.PublishAsync(Channel, JsonSerializer.SerializeToUtf8Bytes(push, s_json));
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                logger.LogWarning("Could not publish a notification to Redis: {Message}; delivering it on this instance only", ex.Message);
            }
        }
        await hub.PublishAsync(push);
    }

    // Subscribes once the first connection exists; StackExchange.Redis re-subscribes after reconnects and failovers.
    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var multiplexer = await redis.WhenConnectedAsync().WaitAsync(stop);
                await multiplexer.GetSubscriber().SubscribeAsync(Channel, (_, message) => Deliver(message));
                IsSubscribed = true;
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                logger.LogWarning("Could not subscribe to notifications yet: {Message}", ex.Message);
            }
            await Task.Delay(TimeSpan.FromSeconds(1), stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private void Deliver(RedisValue message)
    {
        try
        {
            if (JsonSerializer.Deserialize<NotificationPush>((byte[])message!, s_json) is { } push)
            {
                _ = hub.PublishAsync(push);
            }
        }
        catch (JsonException ex)
        {
            logger.LogWarning("Dropped a malformed notification message: {Message}", ex.Message);
        }
    }
}
