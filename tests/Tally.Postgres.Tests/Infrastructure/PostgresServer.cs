using System.Net.Sockets;
using Npgsql;

namespace Tally.Postgres.Tests.Infrastructure;

/// <summary>Every test of this project runs in this collection, against one private PostgreSQL server.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "Postgres";
}

/// <summary>
/// A real, private PostgreSQL 15: initdb into a temp folder (as the postgres user), started on a free loopback
/// port by private-postgres.sh, and stopped and removed at the end. If it cannot start, every test fails.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private static readonly Lazy<PostgresServer> s_forSuites = new(StartForSuites, LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly string s_script = Path.Combine(AppContext.BaseDirectory, "private-postgres.sh");
    private readonly List<IDisposable> _owned = [];
    private int _started;

    public PostgresServer()
    {
        Folder = Path.Combine("/tmp", "tally-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Port = FreePort();
    }

    /// <summary>The server of the shared suites (their fixtures cannot take this collection's): started at first use, stopped when the test process exits.</summary>
    public static PostgresServer ForSuites => s_forSuites.Value;

    public string Folder { get; }

    public int Port { get; }

    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false";

    public async Task InitializeAsync()
    {
        var (code, output) = await RunScriptAsync("start", Folder, Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (code != 0)
        {
            throw new InvalidOperationException($"PostgreSQL did not start (exit {code}):\n{output}");
        }
        Interlocked.Exchange(ref _started, 1);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
    }

    /// <summary>Stops the server as an outage would (fast shutdown), keeping its data.</summary>
    public async Task HaltAsync()
    {
        var (code, output) = await RunScriptAsync("halt", Folder);
        if (code != 0)
        {
            throw new InvalidOperationException($"PostgreSQL did not halt (exit {code}):\n{output}");
        }
    }

    /// <summary>Starts a halted server again on the same port, with the same data.</summary>
    public async Task ResumeAsync()
    {
        var (code, output) = await RunScriptAsync("resume", Folder, Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (code != 0)
        {
            throw new InvalidOperationException($"PostgreSQL did not resume (exit {code}):\n{output}");
        }
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = prefix + "_" + Guid.NewGuid().ToString("N")[..10];
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return $"Host=127.0.0.1;Port={Port};Username=postgres;Database={name};Maximum Pool Size=100";
    }

    private readonly Dictionary<string, Task<PgTallyFactory>> _apps = [];

    /// <summary>One Tally app per name, each on a database of its own, shared by the tests that ask for that name.</summary>
    public Task<PgTallyFactory> AppAsync(string name, IDictionary<string, string?>? overrides = null)
    {
        lock (_apps)
        {
            if (!_apps.TryGetValue(name, out var app))
            {
                app = CreateAppAsync(name, overrides);
                _apps[name] = app;
            }
            return app;
        }
    }

    private async Task<PgTallyFactory> CreateAppAsync(string name, IDictionary<string, string?>? overrides) =>
        Own(new PgTallyFactory(await CreateDatabaseAsync(name), overrides));

    /// <summary>Keeps something to dispose before the server stops (an app that holds connections).</summary>
    public T Own<T>(T disposable)
        where T : IDisposable
    {
        lock (_owned)
        {
            _owned.Add(disposable);
        }
        return disposable;
    }

    public Task DisposeAsync()
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
        Stop();
        return Task.CompletedTask;
    }

    private void Stop()
    {
        if (Interlocked.Exchange(ref _started, 0) == 1)
        {
            RunScriptAsync("stop", Folder).GetAwaiter().GetResult();
        }
    }

    private static PostgresServer StartForSuites()
    {
        var server = new PostgresServer();
        server.InitializeAsync().GetAwaiter().GetResult();
        return server;
    }

    private static async Task<(int Code, string Output)> RunScriptAsync(params string[] args)
    {
        var result = await Command.RunAsync("bash", [s_script, .. args], timeout: TimeSpan.FromMinutes(5));
        return (result.ExitCode, result.All);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
