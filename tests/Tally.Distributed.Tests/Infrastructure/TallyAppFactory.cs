using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Tally.Testing;

namespace Tally.Server.Tests.Infrastructure;

/// <summary>
/// Tally in distributed mode for the shared suites: PostgreSQL (a database of its own), Redis through its
/// Sentinels (a key prefix of its own) and RabbitMQ (queues of their own). The api runs in the test process,
/// the worker as a separate Tally.Server process with the same settings. Same name and surface as the
/// embedded factory of Tally.Server.Tests, so the suites compile unchanged against either.
/// </summary>
public class TallyAppFactory : WebApplicationFactory<Program>
{
    public const string AdminSecret = "test-admin-secret";

    private static readonly TimeSpan s_startBudget = TimeSpan.FromSeconds(60);

    private readonly Dictionary<string, string?> _settings;
    private readonly TallyProcess _worker;

    public TallyAppFactory() : this(new Dictionary<string, string?>())
    {
    }

    public TallyAppFactory(IDictionary<string, string?> overrides)
    {
        var services = DistributedServices.Env;
        var name = "d" + Guid.NewGuid().ToString("N")[..12];
        DataDirectory = Path.Combine(Path.GetTempPath(), "tally-tests", name);
        _settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Postgres",
            ["ConnectionStrings:Postgres"] = DistributedServices.CreateDatabase(name),
            ["Storage:DataDirectory"] = DataDirectory,
            ["Cache:Redis"] = services["Cache__Redis"],
            ["Cache:KeyPrefix"] = name + ":",
            ["Bus:Transport"] = "RabbitMq",
            ["ConnectionStrings:RabbitMq"] = services["ConnectionStrings__RabbitMq"],
            ["Bus:RabbitMq:QueuePrefix"] = name,
            ["Auth:SigningKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Auth:PasswordIterations"] = "1000",
            ["Auth:LoginPermitsPerIpPerMinute"] = "100000",
            ["Auth:LoginPermitsPerPhonePerMinute"] = "100000",
            ["Auth:RegistrationsPerIpPerMinute"] = "100000",
            ["Admin:Secret"] = AdminSecret,
            // As in the embedded test host: first requests are served cold, on cores other suites share.
            ["Admission:RequestBudget"] = "00:00:10",
            // As in the embedded test host: the in-process api shares the test process's thread pool, whose
            // queue is not its overload, so the thread-pool queue check is off here (the worker process keeps it).
            ["Admission:MaxQueueDelay"] = "00:00:00",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in overrides)
        {
            _settings[key] = value;
        }
        var environment = _settings.ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value ?? "");
        environment["Role"] = "worker";
        _worker = DistributedServices.Own(TallyProcess.Start(environment, Path.Combine(DistributedServices.Folder, "workers"), name));
        _settings["Role"] = "api";
    }

    public string DataDirectory { get; }

    public static TallyAppFactory WithSettings(params (string Key, string? Value)[] settings) =>
        new(settings.ToDictionary(s => s.Key, s => s.Value));

    /// <summary>A client of the process that runs the command handlers: the worker process.</summary>
    public HttpClient CreateWorkerClient() => new() { BaseAddress = _worker.BaseAddress };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        // As settings of the host, not app configuration: Program reads them to choose its modules before it builds
        // the app, and app configuration added here would arrive only at the build (dotnet/aspnetcore#37680).
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

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
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
                // SQLite is not used in this mode; the folder may never have been created.
            }
        }
    }
}
