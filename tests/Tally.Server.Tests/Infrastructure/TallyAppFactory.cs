using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace Tally.Server.Tests.Infrastructure;

/// <summary>
/// Tally on the embedded default (SQLite in a private temp folder, in-process bus) with test-friendly settings.
/// Subclasses or <see cref="WithSettings"/> swap only configuration, never the handlers.
/// </summary>
public class TallyAppFactory : WebApplicationFactory<Program>
{
    public const string AdminSecret = "test-admin-secret";

    private readonly Dictionary<string, string?> _settings;

    public TallyAppFactory() : this(new Dictionary<string, string?>())
    {
    }

    public TallyAppFactory(IDictionary<string, string?> overrides)
    {
        DataDirectory = Path.Combine(Path.GetTempPath(), "tally-tests", Guid.NewGuid().ToString("N"));
        _settings = new Dictionary<string, string?>
        {
            ["Storage:DataDirectory"] = DataDirectory,
            ["Auth:PasswordIterations"] = "1000",
            ["Auth:LoginPermitsPerIpPerMinute"] = "100000",
            ["Auth:LoginPermitsPerPhonePerMinute"] = "100000",
            ["Admin:Secret"] = AdminSecret,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in overrides)
        {
            _settings[key] = value;
        }
    }

    public string DataDirectory { get; }

    public static TallyAppFactory WithSettings(params (string Key, string? Value)[] settings) =>
        new(settings.ToDictionary(s => s.Key, s => s.Value));

    /// <summary>A client of the process that runs the command handlers: this one, on the embedded default.</summary>
    public HttpClient CreateWorkerClient() => CreateClient();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(_settings));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // SQLite may still hold the file for a moment; the temp folder is cleaned by the OS.
            }
        }
    }
}
