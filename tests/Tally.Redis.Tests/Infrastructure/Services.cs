using Tally.Server.Cache;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Tally.Redis.Tests.Infrastructure;

/// <summary>A private set of real services (<see cref="PrivateServices"/>) with the Redis faults of these tests.</summary>
public class Services() : PrivateServices("tally-redis-tests")
{
    /// <summary>Two api instances (A and B) on one new database, one Redis key prefix and one signing key.</summary>
    public async Task<(RedisTallyFactory A, RedisTallyFactory B)> PairAsync(string name, IDictionary<string, string?>? overrides = null, bool waitForRedis = true)
    {
        var database = await CreateDatabaseAsync(name + "_" + Guid.NewGuid().ToString("N")[..10]);
        var shared = new Dictionary<string, string?>(overrides ?? new Dictionary<string, string?>())
        {
            ["Auth:SigningKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Cache:KeyPrefix"] = "t" + Guid.NewGuid().ToString("N")[..8] + ":",
        };
        var a = Own(new RedisTallyFactory(database, Redis, shared));
        var b = Own(new RedisTallyFactory(database, Redis, shared));
        _ = a.Server;
        _ = b.Server;
        // Redis connects in the background; until it does an instance counts logins and caches in memory,
        // so a test of shared state starts only once both instances use Redis.
        foreach (var instance in waitForRedis ? new[] { a, b } : [])
        {
            var redis = instance.Services.GetRequiredService<RedisConnection>();
            await redis.WhenConnectedAsync().WaitAsync(TimeSpan.FromSeconds(30));
            var connected = await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(30), () => Task.FromResult(redis.IsConnected));
            if (connected is null)
            {
                throw new InvalidOperationException("An instance did not connect to Redis within 30 s");
            }
        }
        return (a, b);
    }

    /// <summary>A pair (<see cref="PairAsync"/>) with one user registered through A, then one through B.</summary>
    public async Task<(RedisTallyFactory A, RedisTallyFactory B, TallyUser OnA, TallyUser OnB)> PairWithUsersAsync(string name)
    {
        var (a, b) = await PairAsync(name);
        var onA = await a.RegisterAndLoginAsync();
        var onB = await b.RegisterAndLoginAsync();
        return (a, b, onA, onB);
    }

    /// <summary>Stops every Redis process of this set (both data nodes and the three sentinels).</summary>
    public void StopRedis()
    {
        foreach (var node in new[] { "sentinel-1", "sentinel-2", "sentinel-3", "master", "replica" })
        {
            var pidFile = Path.Combine(Folder, "redis", node, "redis.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill();
                }
                catch (ArgumentException)
                {
                    // Already gone.
                }
            }
        }
    }
}

/// <summary>The services of the cross-instance tests.</summary>
public sealed class SharedServices : Services;

/// <summary>The services of the failover test, which kills the Redis master.</summary>
public sealed class FailoverServices : Services;

/// <summary>The services of the Redis-down test, which stops every Redis process.</summary>
public sealed class RedisDownServices : Services;

[CollectionDefinition(Name)]
public sealed class SharedServicesCollection : ICollectionFixture<SharedServices>
{
    public const string Name = "Redis shared";
}
