using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tally.Server.Storage;

namespace Tally.Server.Cache;

/// <summary>
/// Redis for Tally (<c>Cache:Redis</c>): HybridCache reads with Redis as L2, account versions for invalidation,
/// shared token revocation, login and registration counters, and notification fan-out over pub/sub. Unset, everything stays
/// in memory. The setting is read when the services are resolved, not here, so that every configuration source
/// counts (WebApplicationFactory adds its settings only when the app is built).
/// </summary>
public static class CacheSetup
{
    public const string DistributedCacheKey = "tally-redis";

    public static WebApplicationBuilder AddTallyCache(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<CacheOptions>().BindConfiguration(CacheOptions.Section);
        services.AddSingleton<RedisConnection>();
        services.AddSingleton<CacheMetrics>();
        services.AddSingleton<RedisAccountCache>();
        services.AddSingleton<IAccountCache>(sp => UsesRedis(sp)
            ? sp.GetRequiredService<RedisAccountCache>()
            : sp.GetRequiredService<AccountReadCache>());

        // me, balance and lookup read through HybridCache when Redis is configured.
        var reader = services.LastOrDefault(d => d.ServiceType == typeof(ILedgerReader) && !d.IsKeyedService)
            ?? throw new InvalidOperationException("AddTallyCache must come after AddTallyStorage.");
        services.Remove(reader);
        services.AddSingleton<ILedgerReader>(sp =>
        {
            var inner = (ILedgerReader)(reader.ImplementationFactory?.Invoke(sp)
                ?? reader.ImplementationInstance
                ?? ActivatorUtilities.CreateInstance(sp, reader.ImplementationType!));
            return UsesRedis(sp)
                ? ActivatorUtilities.CreateInstance<CachedLedgerReader>(sp, inner)
                : inner;
        });
        services.AddHybridCache(options => options.DistributedCacheServiceKey = DistributedCacheKey);
        services.AddKeyedSingleton<IDistributedCache>(DistributedCacheKey, (sp, _) =>
        {
            var redis = sp.GetRequiredService<RedisConnection>();
            return new RedisCache(Microsoft.Extensions.Options.Options.Create(new RedisCacheOptions
            {
                InstanceName = redis.Prefix + "hc:",
                ConnectionMultiplexerFactory = async () => await redis.WhenConnectedAsync(),
            }));
        });

        services.AddSingleton<ISharedAttemptCounter, RedisAttemptCounter>();
        services.AddSingleton<RedisTokenRevocation>();
        services.AddHostedService(sp => sp.GetRequiredService<RedisTokenRevocation>());
        services.AddSingleton<RedisNotificationPublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<RedisNotificationPublisher>());

        // The "cache" readiness check: replaces the embedded one, and says degraded when Redis is unreachable.
        services.AddHealthChecks();
        services.Configure<HealthCheckServiceOptions>(options =>
        {
            foreach (var existing in options.Registrations.Where(r => r.Name == "cache").ToList())
            {
                options.Registrations.Remove(existing);
            }
            options.Registrations.Add(new HealthCheckRegistration(
                "cache",
                sp => ActivatorUtilities.CreateInstance<CacheHealthCheck>(sp),
                failureStatus: HealthStatus.Degraded,
                tags: [ServiceDefaultsExtensions.ReadyTag]));
        });
        return builder;
    }

    /// <summary>True when <c>Cache:Redis</c> is set.</summary>
    public static bool UsesRedis(IServiceProvider services) =>
        services.GetRequiredService<IOptions<CacheOptions>>().Value.UsesRedis;
}
