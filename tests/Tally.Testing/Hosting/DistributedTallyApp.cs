using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Tally.Testing;

/// <summary>
/// Tally in distributed mode for the shared suites: PostgreSQL (a database of its own), Redis through its
/// Sentinels (a key prefix of its own) and RabbitMQ (queues of their own). The api runs in the test process,
/// the worker as a separate Tally.Server process with the same settings.
/// </summary>
public class DistributedTallyApp : TallyTestHost
{
    private static readonly TimeSpan s_startBudget = TimeSpan.FromSeconds(60);

    private readonly ServerProcess _worker;

    public DistributedTallyApp() : this(new Dictionary<string, string?>())
    {
    }

    public DistributedTallyApp(IDictionary<string, string?> overrides) : this("d" + Guid.NewGuid().ToString("N")[..12], overrides)
    {
    }

    private DistributedTallyApp(string name, IDictionary<string, string?> overrides)
        : base("tally-tests", TallyTestKit.AdminSecret, Mode(name), overrides)
    {
        var environment = Settings.ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value ?? "");
        environment["Role"] = "worker";
        _worker = DistributedServices.Own(ServerProcess.LaunchTally(environment, Path.Combine(DistributedServices.Folder, "workers"), name));
    }

    private static Dictionary<string, string?> Mode(string name)
    {
        var services = DistributedServices.Env;
        return new()
        {
            ["Role"] = "api",
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = DistributedServices.CreateDatabase(name),
            ["Cache:Redis"] = services["Cache__Redis"],
            ["Cache:KeyPrefix"] = name + ":",
            ["Bus:Transport"] = "RabbitMq",
            ["ConnectionStrings:RabbitMq"] = services["ConnectionStrings__RabbitMq"],
            ["Bus:RabbitMq:QueuePrefix"] = name,
            ["Auth:SigningKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        };
    }

    public static DistributedTallyApp WithSettings(params (string Key, string? Value)[] settings) =>
        new(settings.ToDictionary(s => s.Key, s => s.Value));

    /// <summary>A client of the process that runs the command handlers: the worker process.</summary>
    public HttpClient CreateWorkerClient() => new() { BaseAddress = _worker.BaseAddress };

    /// <summary>Returns the api only once it and its worker are ready: database, Redis and RabbitMQ all connected.</summary>
    protected override IHost CreateHost(IHostBuilder builder)
    {
        var host = base.CreateHost(builder);
        WaitUntilReadyAsync(host).GetAwaiter().GetResult();
        return host;
    }

    private async Task WaitUntilReadyAsync(IHost host)
    {
        await _worker.WaitReadyAsync(s_startBudget);
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var until = DateTime.UtcNow + s_startBudget;
        HealthReport report;
        while ((report = await health.CheckHealthAsync()).Status != HealthStatus.Healthy)
        {
            if (DateTime.UtcNow > until)
            {
                var states = string.Join(", ", report.Entries.Select(e => $"{e.Key}={e.Value.Status} {e.Value.Description}"));
                throw new TimeoutException($"The api was not healthy within {s_startBudget}: {states}");
            }
            await Task.Delay(100);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _worker.Dispose();
        }
    }
}

/// <summary>One distributed Tally shared by the tests of a class (xunit needs a fixture with a single public constructor).</summary>
public sealed class SharedDistributedApp : DistributedTallyApp, ITallyMode
{
    static TallyTestHost ITallyMode.WithSettings(params (string Key, string? Value)[] settings) => WithSettings(settings);

    static IReadOnlyList<string> ITallyMode.ReadyDependencies => ["database", "cache", "bus"];
}
