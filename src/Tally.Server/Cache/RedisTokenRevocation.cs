using StackExchange.Redis;

namespace Tally.Server.Cache;

/// <summary>
/// Token revocation shared across instances. The per-request check stays a lookup in this instance's memory
/// (<see cref="StoredTokenRevocation"/>, loaded from the database at start); a logout writes the database (so it
/// survives everything), SETs <c>revoked:{jti}</c> in Redis with a TTL until the token expires, and PUBLISHes the
/// jti, which every instance adds to its own set within milliseconds.
///
/// Redis down: the check does not fail closed (that would log everyone out because a cache is down) and does not
/// trust a stale set either: while Redis is unreachable, and once after it comes back, each instance re-reads the
/// revocations from the database every second, so a logout on another instance holds here within about a second.
/// </summary>
public sealed class RedisTokenRevocation(StoredTokenRevocation local, ILedgerReader reader, RedisConnection redis, TimeProvider time, ILogger<RedisTokenRevocation> logger)
    : BackgroundService, ITokenRevocation
{
    private int _missed = 1;

    private RedisChannel Channel => RedisChannel.Literal(redis.Prefix + "revocations");

    public bool IsRevoked(string jti) => local.IsRevoked(jti);

    public async Task RevokeAsync(string jti, DateTimeOffset expiresAt)
    {
        await local.RevokeAsync(jti, expiresAt);
        if (redis.Database is { } db)
        {
            try
            {
                var ttl = expiresAt - time.GetUtcNow();
                if (ttl > TimeSpan.Zero)
                {
                    var set = db.StringSetAsync(redis.Prefix + "revoked:" + jti, expiresAt.ToUnixTimeSeconds(), ttl);
                    var publish = db.PublishAsync(Channel, jti + " " + expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
                    await Task.WhenAll(set, publish);
                }
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                logger.LogWarning("Could not publish a revocation: {Message}; the other instances read it from the database", ex.Message);
            }
        }
        Volatile.Write(ref _missed, 1);
    }

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        redis.ConnectionFailed += () => Volatile.Write(ref _missed, 1);
        var subscribed = false;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!subscribed && redis.IsConnected)
                {
                    await redis.Multiplexer!.GetSubscriber().SubscribeAsync(Channel, (_, message) => Remember(message));
                    subscribed = true;
                    Volatile.Write(ref _missed, 1);
                }
                // While Redis is down (and once after each outage), the database is the channel.
                if (!redis.IsConnected || Interlocked.Exchange(ref _missed, 0) == 1)
                {
                    if (!redis.IsConnected)
                    {
                        Volatile.Write(ref _missed, 1);
                    }
                    foreach (var (jti, expiresAt) in await reader.GetRevokedTokensAsync(time.GetUtcNow().ToUnixTimeSeconds()))
                    {
                        local.Remember(jti, expiresAt);
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogDebug("Revocation sync: {Message}", ex.Message);
            }
            await Task.Delay(TimeSpan.FromSeconds(1), stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private void Remember(RedisValue message)
    {
        var text = (string?)message;
        var space = text?.IndexOf(' ', StringComparison.Ordinal) ?? -1;
        if (space > 0 && long.TryParse(text.AsSpan(space + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var expiresAt))
        {
            local.Remember(text![..space], expiresAt);
        }
    }
}
