using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Tally.Server.Cache;
using Tally.Testing;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Tally.Redis.Tests.Infrastructure;

/// <summary>
/// A private set of real services (PostgreSQL, Redis master + replica + 3 sentinels, RabbitMQ) from
/// scripts/services.sh, in a state folder of its own, stopped and removed at the end.
/// </summary>
public class Services : IAsyncLifetime
{
    private readonly Dictionary<string, string> _env = [];
    private readonly List<IDisposable> _owned = [];

    public string StateDirectory { get; } = Path.Combine("/tmp", "tally-redis-tests-" + Guid.NewGuid().ToString("N")[..10]);

    public string Redis => _env["Cache__Redis"];

    public string Postgres => _env["ConnectionStrings__Postgres"];

    public static string Script
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var script = Path.Combine(dir.FullName, "scripts", "services.sh");
                if (File.Exists(script))
                {
                    return script;
                }
            }
            throw new InvalidOperationException("scripts/services.sh not found above " + AppContext.BaseDirectory);
        }
    }

    public async Task InitializeAsync()
    {
        var (code, stdout, stderr) = await RunAsync("up");
        if (code != 0)
        {
            throw new InvalidOperationException($"services.sh up failed ({code}):\n{stderr}");
        }
        foreach (Match m in Regex.Matches(stdout, "^export ([A-Za-z_0-9]+)='?([^'\\n]*)'?$", RegexOptions.Multiline))
        {
            _env[m.Groups[1].Value] = m.Groups[2].Value;
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => RunAsync("down").GetAwaiter().GetResult();
    }

    public async Task DisposeAsync()
    {
        lock (_owned)
        {
            foreach (var owned in _owned)
            {
                owned.Dispose();
            }
            _owned.Clear();
        }
        NpgsqlConnection.ClearAllPools();
        await RunAsync("down");
    }

    public T Own<T>(T disposable)
        where T : IDisposable
    {
        lock (_owned)
        {
            _owned.Add(disposable);
        }
        return disposable;
    }

    /// <summary>A fresh database on the private server, owned by the tally role.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = prefix + "_" + Guid.NewGuid().ToString("N")[..10];
        await using (var connection = new NpgsqlConnection(Postgres + ";Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(Postgres) { Database = name, MaxPoolSize = 50 }.ConnectionString;
    }

    /// <summary>Two api instances (A and B) on one new database, one Redis key prefix and one signing key.</summary>
    public async Task<(RedisTallyFactory A, RedisTallyFactory B)> PairAsync(string name, IDictionary<string, string?>? overrides = null, bool waitForRedis = true)
    {
        var database = await CreateDatabaseAsync(name);
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

    public async Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["TALLY_SERVICES_DIR"] = StateDirectory;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Stops every Redis process of this set (both data nodes and the three sentinels).</summary>
    public void StopRedis()
    {
        foreach (var node in new[] { "sentinel-1", "sentinel-2", "sentinel-3", "master", "replica" })
        {
            var pidFile = Path.Combine(StateDirectory, "redis", node, "redis.pid");
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
