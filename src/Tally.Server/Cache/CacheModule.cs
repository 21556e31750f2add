using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Tally.Server.Features.Notifications;

namespace Tally.Server.Cache;

/// <summary>
/// The cache and what instances share through it. In memory (the default): the versioned account cache in front of
/// the database's reader, revocations and notifications of this instance only. With Redis (<c>Cache:Redis</c>):
/// HybridCache reads with Redis as L2, account versions for invalidation, shared token revocation, login and
/// registration counters, and notification fan-out over pub/sub.
/// </summary>
public static class CacheModule
{
    public static IServiceCollection Add(IServiceCollection services, CacheProvider provider)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<CacheOptions>().BindConfiguration(CacheOptions.Section)
            .ValidateUnchanged(TallyComposition.CacheKey, $"the {provider} cache", options => options.UsesRedis == (provider == CacheProvider.Redis))
            .ValidateOnStart();
        services.AddSingleton<CacheMetrics>();
        switch (provider)
        {
            case CacheProvider.InMemory:
                services.AddSingleton<IAccountCache, AccountReadCache>();
                services.AddSingleton(sp => sp.GetRequiredKeyedService<ILedgerReader>(StorageModule.DatabaseReader));
                services.AddSingleton<ITokenRevocation>(sp => sp.GetRequiredService<StoredTokenRevocation>());
                services.AddSingleton<INotificationPublisher>(sp => sp.GetRequiredService<NotificationHub>());
                break;
            case CacheProvider.Redis:
                AddRedis(services);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(provider), provider, null);
        }
        return services;
    }

    private static void AddRedis(IServiceCollection services)
    {
        const string distributedCacheKey = "tally-redis";

        services.AddSingleton<RedisConnection>();
        services.AddSingleton<RedisAccountCache>();
        services.AddSingleton<IAccountCache>(sp => sp.GetRequiredService<RedisAccountCache>());

        // me, balance and lookup read through HybridCache, in front of the database's reader.
        services.AddSingleton<ILedgerReader, CachedLedgerReader>();
        services.AddHybridCache(options => options.DistributedCacheServiceKey = distributedCacheKey);
        services.AddKeyedSingleton<IDistributedCache>(distributedCacheKey, (sp, _) =>
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
        services.AddSingleton<ITokenRevocation>(sp => sp.GetRequiredService<RedisTokenRevocation>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisTokenRevocation>());
        services.AddSingleton<RedisNotificationPublisher>();
        services.AddSingleton<INotificationPublisher>(sp => sp.GetRequiredService<RedisNotificationPublisher>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisNotificationPublisher>());

        // Degraded, not unhealthy, when Redis is unreachable: every read then falls back to the database.
        services.AddHealthChecks().AddCheck<CacheHealthCheck>("cache", failureStatus: HealthStatus.Degraded, tags: [ServiceDefaultsExtensions.ReadyTag]);
    }
}
