using System.Diagnostics;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using Tally.Testing;

namespace Tally.Ha.Tests.Infrastructure;

/// <summary>
/// One HA set of real servers for the test run (<c>scripts/services.sh up --ha</c> in a state folder of its own:
/// etcd, three PostgreSQL nodes under Patroni, Redis with Sentinel, three RabbitMQ nodes), and Tally on it as one
/// api process and one worker process. Stopped with <c>down</c> when the test process ends (a detached watchdog
/// makes sure of it however the process ends).
/// </summary>
public sealed partial class HaCluster : IAsyncLifetime
{
    public const string AdminSecret = "ha-admin-secret";

    private readonly Dictionary<string, string> _env = new(StringComparer.Ordinal);

    public string Folder { get; } = Path.Combine("/tmp", "tally-ha-tests-" + Guid.NewGuid().ToString("N")[..10]);

    public IReadOnlyDictionary<string, string> Env => _env;

    /// <summary>The api's and worker's logs; kept after the run only with TALLY_HA_KEEP_LOGS=1.</summary>
    public string Logs => Folder + "-logs";

    public ServerProcess Api { get; private set; } = null!;

    public ServerProcess Worker { get; private set; } = null!;

    /// <summary>The multi-host connection string (Target Session Attributes=primary) Tally uses.</summary>
    public string Postgres => _env["ConnectionStrings__Postgres"];

    public IReadOnlyList<int> PostgresPorts => _env["TALLY_PG_PORTS"].Split(',').Select(int.Parse).ToList();

    private static string Script => Path.Combine(ServerProcess.RepoRoot, "scripts", "services.sh");

    public async Task InitializeAsync()
    {
        var (code, output, errors) = await RunAsync(TimeSpan.FromMinutes(5), "up", "--ha");
        if (code != 0)
        {
            throw new InvalidOperationException($"scripts/services.sh up --ha failed ({code}):\n{errors}");
        }
        var watchdog = new ProcessStartInfo("setsid") { UseShellExecute = false };
        watchdog.ArgumentList.Add("bash");
        watchdog.ArgumentList.Add("-c");
        watchdog.ArgumentList.Add($"exec </dev/null >/dev/null 2>&1; while kill -0 {Environment.ProcessId}; do sleep 1; done; exec bash '{Script}' down");
        watchdog.Environment["TALLY_SERVICES_DIR"] = Folder;
        Process.Start(watchdog)!.Dispose();
        foreach (Match match in ExportLine().Matches(output))
        {
            _env[match.Groups[1].Value] = match.Groups[2].Value;
        }

        var logs = Logs;
        var environment = new Dictionary<string, string>
        {
            ["Bus__Transport"] = "RabbitMq",
            ["ConnectionStrings__RabbitMq"] = _env["ConnectionStrings__RabbitMq"],
            ["Bus__RabbitMq__Endpoints"] = _env["Bus__RabbitMq__Endpoints"],
            ["Bus__RabbitMq__QueueType"] = _env["Bus__RabbitMq__QueueType"],
            ["Storage__Provider"] = "Postgres",
            ["ConnectionStrings__Postgres"] = Postgres,
            ["Storage__DataDirectory"] = Path.Combine(logs, "data"),
            ["Auth__SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Auth__PasswordIterations"] = "1000",
            ["Auth__LoginPermitsPerIpPerMinute"] = "100000",
            ["Auth__LoginPermitsPerPhonePerMinute"] = "100000",
            ["Auth__RegistrationsPerIpPerMinute"] = "100000",
            ["Admin__Secret"] = AdminSecret,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        Api = ServerProcess.LaunchTally(new Dictionary<string, string>(environment) { ["Role"] = "api" }, logs, "api");
        Worker = ServerProcess.LaunchTally(new Dictionary<string, string>(environment) { ["Role"] = "worker" }, logs, "worker");
        await Task.WhenAll(Api.WaitReadyAsync(TimeSpan.FromSeconds(90)), Worker.WaitReadyAsync(TimeSpan.FromSeconds(90)));
    }

    public async Task DisposeAsync()
    {
        Api?.Dispose();
        Worker?.Dispose();
        await RunAsync(TimeSpan.FromMinutes(3), "down");
        if (Environment.GetEnvironmentVariable("TALLY_HA_KEEP_LOGS") != "1" && Directory.Exists(Logs))
        {
            Directory.Delete(Logs, recursive: true);
        }
    }

    /// <summary>Runs scripts/services.sh with this set's state folder.</summary>
    public async Task<(int Code, string Output, string Errors)> RunAsync(TimeSpan limit, params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["TALLY_SERVICES_DIR"] = Folder;
        start.Environment["TALLY_PG_MAX_CONNECTIONS"] = "300";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"scripts/services.sh {string.Join(' ', arguments)} did not finish within {limit}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs a services.sh command that must succeed; returns its stdout, trimmed.</summary>
    public async Task<string> MustRunAsync(params string[] arguments)
    {
        var (code, output, errors) = await RunAsync(TimeSpan.FromMinutes(3), arguments);
        Assert.True(code == 0, $"scripts/services.sh {string.Join(' ', arguments)} failed ({code}):\n{errors}");
        return output.Trim();
    }

    /// <summary>Registers users (each opens with money from the bank) and returns their sessions and accounts.</summary>
    public async Task<List<(string Session, string Account)>> RegisterAsync(int count)
    {
        using var http = new HttpClient { BaseAddress = Api.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var users = new List<(string Session, string Account)>();
        while (users.Count < count)
        {
            // A 503 or 504 (a cold start on shared cores, a failover) is retried with a new phone: nothing was applied,
            // or the orphan user is harmless.
            var phone = "7" + RandomNumberGenerator.GetInt32(100_000_000, 999_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture) + users.Count % 10;
            const string password = "correct horse battery";
            using var register = await http.PostAsJsonAsync("/api/auth/register", new { phone, username = "ha" + Guid.NewGuid().ToString("N")[..8], password });
            if (await RetryableAsync(register))
            {
                continue;
            }
            var registered = await ReadJsonAsync(register);
            JsonElement? session = null;
            for (var attempt = 0; attempt < 50 && session is null; attempt++)
            {
                using var login = await http.PostAsJsonAsync("/api/auth/login", new { phone, password });
                if (!await RetryableAsync(login))
                {
                    session = (await ReadJsonAsync(login)).GetProperty("session");
                }
            }
            Assert.True(session is not null, "login kept failing with 503/504");
            users.Add((session.Value.GetString()!, registered.GetProperty("account_number").GetString()!));
        }
        return users;
    }

    /// <summary>The money audit through the api; retried while the database is failing over.</summary>
    public async Task<JsonElement> AuditAsync()
    {
        using var admin = new HttpClient { BaseAddress = Api.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        admin.DefaultRequestHeaders.Add("X-Admin-Secret", AdminSecret);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var response = await admin.GetAsync("/api/account/admin/audit");
            if (response.IsSuccessStatusCode || DateTime.UtcNow > until)
            {
                return await ReadJsonAsync(response);
            }
            await Task.Delay(500);
        }
    }

    /// <summary>How many times each transfer whose note starts with <paramref name="prefix"/> is in the ledger of the primary.</summary>
    public Task<Dictionary<string, long>> AppliedAsync(string prefix) => AppliedAsync(Postgres, prefix);

    public static async Task<Dictionary<string, long>> AppliedAsync(string connectionString, string prefix)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                var applied = new Dictionary<string, long>(StringComparer.Ordinal);
                await using var db = new NpgsqlConnection(connectionString + ";Pooling=false");
                await db.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT note, count(*) FROM transfers WHERE note LIKE $1 GROUP BY note", db);
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = prefix + "-%" });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    applied[reader.GetString(0)] = reader.GetInt64(1);
                }
                return applied;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(500);
            }
        }
    }

    /// <summary>A connection string to one node only (a replica is read-only, hot standby).</summary>
    public string Node(int port) => new NpgsqlConnectionStringBuilder(Postgres) { Host = "127.0.0.1", Port = port, TargetSessionAttributes = null }.ConnectionString;

    private static async Task<bool> RetryableAsync(HttpResponseMessage response)
    {
        if ((int)response.StatusCode is 503 or 504)
        {
            await Task.Delay(200);
            return true;
        }
        return false;
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [GeneratedRegex(@"^export ([A-Za-z_][A-Za-z0-9_]*)='?([^'\n]*?)'?$", RegexOptions.Multiline)]
    private static partial Regex ExportLine();
}

[CollectionDefinition(Name)]
public sealed class HaCollection : ICollectionFixture<HaCluster>
{
    public const string Name = "ha";
}

/// <summary>
/// The restore drill gets an HA set of its own: it destroys its cluster, and it must not depend on which node
/// the failover tests left as leader, or on the WAL that their kills left unarchived.
/// </summary>
[CollectionDefinition(Name)]
public sealed class RestoreDrillCollection : ICollectionFixture<HaCluster>
{
    public const string Name = "ha-restore-drill";
}
