using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tally.Server.Features.Auth;
using Tally.Server.Options;

namespace Tally.Server.Cache;

/// <summary>
/// Login attempts counted in Redis, so that every instance shares one count: a fixed one-minute window per
/// phone (or username) and per client IP, each an INCR with an EXPIRE set on the window's first attempt.
/// When Redis is unreachable it answers "not handled" and <see cref="LoginThrottle"/> counts in memory, per
/// instance: an attacker gets at most the limit per instance during an outage, and nobody is locked out.
/// </summary>
public sealed class RedisLoginCounter(RedisConnection redis, IOptions<AuthOptions> options, TimeProvider time, ILogger<RedisLoginCounter> logger) : ISharedLoginCounter
{
    private static readonly TimeSpan s_window = TimeSpan.FromMinutes(1);

    public bool IsActive => redis.Configured && redis.IsConnected;

    public async ValueTask<(bool Handled, int? RetryAfter)> TryAttemptAsync(string key, string? clientIp)
    {
        if (redis.Database is not { } db)
        {
            return (false, null);
        }
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var window = now / 60;
        var retryAfter = (int)Math.Max(1, ((window + 1) * 60) - now);
        var suffix = ":" + window.ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            var phone = CountAsync(db, redis.Prefix + "login:" + key + suffix);
            var ip = clientIp is null ? Task.FromResult(0L) : CountAsync(db, redis.Prefix + "login:ip:" + clientIp + suffix);
            var byKey = await phone;
            var byIp = await ip;
            var limits = options.Value;
            return byKey > limits.LoginPermitsPerPhonePerMinute || byIp > limits.LoginPermitsPerIpPerMinute
                ? (true, retryAfter)
                : (true, null);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Login counters in Redis did not answer: {Message}; counting in memory", ex.Message);
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
