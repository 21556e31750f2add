using StackExchange.Redis;

namespace Tally.Server.Cache;

/// <summary>
/// Attempts counted in Redis, so that every instance shares one count: a fixed one-minute window per key (a phone, a
/// username or a client IP), each an INCR with an EXPIRE set on the window's first attempt. When Redis is unreachable
/// it answers "not handled" and the caller counts in memory, per instance: an attacker gets at most the limit per
/// instance during an outage, and nobody is locked out.
/// </summary>
public sealed class RedisAttemptCounter(RedisConnection redis, TimeProvider time, ILogger<RedisAttemptCounter> logger) : ISharedAttemptCounter
{
    private static readonly TimeSpan s_window = TimeSpan.FromMinutes(1);

    public bool IsActive => redis.IsConnected;

    public async ValueTask<(bool Handled, int? RetryAfter)> TryAttemptAsync(IReadOnlyList<AttemptLimit> limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (redis.Database is not { } db)
        {
            return (false, null);
        }
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var window = now / 60;
        var retryAfter = (int)Math.Max(1, ((window + 1) * 60) - now);
        var suffix = ":" + window.ToString(CultureInfo.InvariantCulture);
        try
        {
            var counts = await Task.WhenAll(limits.Select(limit => CountAsync(db, redis.Prefix + limit.Key + suffix)));
            var exceeded = false;
            for (var i = 0; i < limits.Count; i++)
            {
                exceeded |= counts[i] > limits[i].PermitsPerMinute;
            }
            return (true, exceeded ? retryAfter : null);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Attempt counters in Redis did not answer: {Message}; counting in memory", ex.Message);
            return (false, null);
        }
    }

    private static async Task<long> CountAsync(IDatabase db, RedisKey key)
    {
        var count = db.StringIncrementAsync(key);
        var expire = db.KeyExpireAsync(key, s_window + TimeSpan.FromSeconds(5), ExpireWhen.HasNoExpiry);
        await Task.WhenAll(count, expire);
        return await count;
    }
}
