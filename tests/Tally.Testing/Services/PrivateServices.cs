using System.Text.RegularExpressions;
using Npgsql;

namespace Tally.Testing;

/// <summary>
/// Real private PostgreSQL, Redis (a master, a replica and three Sentinels) and RabbitMQ from
/// <c>scripts/services.sh up</c>, or a profile of it (the HA set of <c>up --ha</c>), in a state folder of its own,
/// stopped with <c>down</c> when disposed and, whatever ends the test process, by a detached watchdog once it is
/// gone. If they cannot start, every test that uses them fails. The one wrapper of scripts/services.sh; an xunit
/// fixture as it is, or held for a whole run.
/// </summary>
public partial class PrivateServices : IAsyncLifetime
{
    private readonly List<IDisposable> _owned = [];
    private static readonly TimeSpan s_scriptBudget = TimeSpan.FromMinutes(8);

    private readonly string[] _up;
    private readonly (string Name, string Value)[] _scriptEnvironment;

    public PrivateServices() : this("tally-services")
    {
    }

    /// <param name="prefix">The start of the state folder's name under /tmp.</param>
    /// <param name="scriptEnvironment">Variables for services.sh, such as TALLY_PG_MAX_CONNECTIONS.</param>
    protected PrivateServices(string prefix, params (string Name, string Value)[] scriptEnvironment) : this(prefix, [], scriptEnvironment)
    {
    }

    /// <param name="prefix">The start of the state folder's name under /tmp.</param>
    /// <param name="upOptions">Options of <c>up</c>: the profile, such as <c>--ha</c>.</param>
    /// <param name="scriptEnvironment">Variables for services.sh, such as TALLY_PG_MAX_CONNECTIONS.</param>
    protected PrivateServices(string prefix, string[] upOptions, params (string Name, string Value)[] scriptEnvironment)
    {
        Folder = Path.Combine("/tmp", prefix + "-" + Guid.NewGuid().ToString("N")[..10]);
        _up = ["up", .. upOptions];
        _scriptEnvironment = scriptEnvironment;
    }

    /// <summary>The state folder (TALLY_SERVICES_DIR of the script).</summary>
    public string Folder { get; }

    /// <summary>The export lines of <c>up</c>: connection strings and ports.</summary>
    public IReadOnlyDictionary<string, string> Env { get; private set; } = new Dictionary<string, string>();

    public string RabbitMq => Env["ConnectionStrings__RabbitMq"];

    public string Postgres => Env["ConnectionStrings__Postgres"];

    public string Redis => Env["Cache__Redis"];

    public static string Script => Path.Combine(ServerProcess.RepoRoot, "scripts", "services.sh");

    public virtual async Task InitializeAsync()
    {
        var output = await UpAsync();
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match match in ExportLine().Matches(output))
        {
            env[match.Groups[1].Value] = match.Groups[2].Value;
        }
        Env = env;
        // The test host may be ended before a ProcessExit handler could finish a slow "down", so a detached
        // watchdog stops the servers once this process is gone, however it ends.
        var watchdog = new ProcessStartInfo("setsid") { UseShellExecute = false };
        watchdog.ArgumentList.Add("bash");
        watchdog.ArgumentList.Add("-c");
        watchdog.ArgumentList.Add($"exec </dev/null >/dev/null 2>&1; while kill -0 {Environment.ProcessId}; do sleep 1; done; exec bash '{Script}' down");
        watchdog.Environment["TALLY_SERVICES_DIR"] = Folder;
        Process.Start(watchdog)!.Dispose();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DisposeOwned();
    }

    /// <summary>Runs <c>up</c> (with this set's profile): starts whatever is not running, such as a server a test killed.</summary>
    /// <returns>What it printed: the export lines.</returns>
    public async Task<string> UpAsync()
    {
        var (code, output, errors) = await RunAsync(_up);
        if (code != 0)
        {
            throw new InvalidOperationException($"scripts/services.sh {string.Join(' ', _up)} failed ({code}):\n{errors}");
        }
        return output;
    }

    /// <summary>Disposed before the servers go down (at <see cref="DisposeAsync"/> or when the test process exits).</summary>
    public T Own<T>(T disposable)
        where T : IDisposable
    {
        lock (_owned)
        {
            _owned.Add(disposable);
        }
        return disposable;
    }

    /// <summary>A new, empty database on the private server, owned by the tally role; Tally migrates it at start-up.</summary>
    public async Task<string> CreateDatabaseAsync(string name, int maxPoolSize = 50)
    {
        await using (var connection = new NpgsqlConnection(Postgres + ";Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(Postgres) { Database = name, MaxPoolSize = maxPoolSize }.ConnectionString;
    }

    /// <summary>Runs a command of scripts/services.sh on this set (a fault, a query, up or down).</summary>
    public Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args) => RunAsync(s_scriptBudget, args);

    /// <summary>Runs a command of scripts/services.sh on this set, killed with its children past <paramref name="timeout"/>.</summary>
    public async Task<(int Code, string Stdout, string Stderr)> RunAsync(TimeSpan timeout, params string[] args)
    {
        var result = await Command.RunAsync("bash", [Script, .. args], timeout: timeout,
            environment: [new("TALLY_SERVICES_DIR", Folder), .. _scriptEnvironment.Select(e => KeyValuePair.Create(e.Name, e.Value))]);
        return (result.ExitCode, result.Output, result.Error);
    }

    public virtual async Task DisposeAsync()
    {
        DisposeOwned();
        NpgsqlConnection.ClearAllPools();
        await RunAsync("down");
    }

    private void DisposeOwned()
    {
        List<IDisposable> owned;
        lock (_owned)
        {
            owned = [.. _owned];
            _owned.Clear();
        }
        foreach (var item in owned)
        {
            try
            {
                item.Dispose();
            }
            catch (Exception)
            {
                // Best effort: the services go down next anyway.
            }
        }
    }

    [GeneratedRegex(@"^export ([A-Za-z_][A-Za-z0-9_]*)='?([^'\n]*)'?$", RegexOptions.Multiline)]
    private static partial Regex ExportLine();
}
