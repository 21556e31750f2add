namespace Tally.Server.Cache;

/// <summary>
/// The "cache" readiness check with Redis: healthy when it answers a PING,
/// degraded (not unhealthy) when it does not, since every read then falls back to the database.
/// </summary>
public sealed class CacheHealthCheck(RedisConnection redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (redis.Database is not { } db)
        {
            return HealthCheckResult.Degraded("redis unreachable: reads from the database, login limits per instance");
        }
        try
        {
            var latency = await db.PingAsync().WaitAsync(TimeSpan.FromSeconds(1), cancellationToken);
            return HealthCheckResult.Healthy($"redis ({latency.TotalMilliseconds:0.0} ms)");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Degraded("redis does not answer: reads from the database, login limits per instance");
        }
    }
}
