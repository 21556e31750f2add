using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Npgsql;
using Tally.Testing;

namespace Tally.Ha.Tests.Infrastructure;

/// <summary>
/// One HA set of real servers (<see cref="PrivateServices"/> of <c>scripts/services.sh up --ha</c>: etcd, three
/// PostgreSQL nodes under Patroni, Redis with Sentinel, three RabbitMQ nodes), and Tally on it as one api process and
/// one worker process.
/// </summary>
public sealed class HaCluster() : PrivateServices("tally-ha-tests", ["--ha"], ("TALLY_PG_MAX_CONNECTIONS", "300"))
{
    public const string AdminSecret = "ha-admin-secret";

    private static readonly TimeSpan s_commandBudget = TimeSpan.FromMinutes(3);

    /// <summary>The api's and worker's logs; kept after the run only with TALLY_HA_KEEP_LOGS=1.</summary>
    public string Logs => Folder + "-logs";

    public ServerProcess Api { get; private set; } = null!;

    public ServerProcess Worker { get; private set; } = null!;

    public IReadOnlyList<int> PostgresPorts => Env["TALLY_PG_PORTS"].Split(',').Select(int.Parse).ToList();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var environment = TallyEnvironment.OnPostgresAndRabbitMq(Postgres, RabbitMq, Path.Combine(Logs, "data"), AdminSecret);
        environment["Bus__RabbitMq__Endpoints"] = Env["Bus__RabbitMq__Endpoints"];
        environment["Bus__RabbitMq__QueueType"] = Env["Bus__RabbitMq__QueueType"];
        Api = Own(ServerProcess.LaunchTally(new Dictionary<string, string>(environment) { ["Role"] = "api" }, Logs, "api"));
        Worker = Own(ServerProcess.LaunchTally(new Dictionary<string, string>(environment) { ["Role"] = "worker" }, Logs, "worker"));
        await Task.WhenAll(Api.WaitReadyAsync(TimeSpan.FromSeconds(90)), Worker.WaitReadyAsync(TimeSpan.FromSeconds(90)));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Environment.GetEnvironmentVariable("TALLY_HA_KEEP_LOGS") != "1" && Directory.Exists(Logs))
        {
            Directory.Delete(Logs, recursive: true);
        }
    }

    /// <summary>Runs a services.sh command that must succeed; returns its stdout, trimmed.</summary>
    public async Task<string> MustRunAsync(params string[] arguments)
    {
        var (code, output, errors) = await RunAsync(s_commandBudget, arguments);
        Assert.True(code == 0, $"scripts/services.sh {string.Join(' ', arguments)} failed ({code}):\n{errors}");
        return output.Trim();
    }

    /// <summary>
    /// Brings the set up again (whatever an earlier test stopped), registers 8 users and starts a transfer load on the
    /// api, its keys and notes starting with <paramref name="prefix"/>; returns it once 150 transfers are acknowledged.
    /// </summary>
    public async Task<TransferLoad> StartLoadAsync(string prefix)
    {
        await UpAsync();
        var users = await RegisterAsync(8);
        var load = new TransferLoad(Api.BaseAddress, users, prefix + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await load.WaitForAcknowledgedAsync(150);
            return load;
        }
        catch
        {
            await load.DisposeAsync();
            throw;
        }
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
    public Task<Dictionary<string, long>> AppliedAsync(string prefix) => PostgresLedger.AppliedAsync(Postgres, prefix);

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
