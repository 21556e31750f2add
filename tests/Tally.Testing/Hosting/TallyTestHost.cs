using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Tally.Testing;

/// <summary>
/// Tally.Server in the test process (WebApplicationFactory) with a data folder of its own and the tests' settings
/// (<see cref="TallyEnvironment.ForTests"/>), plus a patient request budget. A subclass adds the settings of
/// its mode (storage, bus, cache); the caller's overrides come last.
/// </summary>
public abstract class TallyTestHost : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    protected TallyTestHost(string folder, string adminSecret, IEnumerable<KeyValuePair<string, string?>> mode, IEnumerable<KeyValuePair<string, string?>>? overrides)
    {
        DataDirectory = Path.Combine(Path.GetTempPath(), folder, Guid.NewGuid().ToString("N"));
        _settings = new Dictionary<string, string?>(TallyEnvironment.ForTests(DataDirectory, adminSecret), StringComparer.OrdinalIgnoreCase)
        {
            // The test host serves its first requests cold (JIT, schema) on a machine that runs other suites at
            // once: give requests the old 10 s instead of the SLO-sized 1 s. Tests of deadlines set their own.
            ["Admission:RequestBudget"] = "00:00:10",
            // The thread-pool queue check is off: this host shares its process's thread pool with every other host
            // of the test run and with the tests themselves, so that queue is not this host's overload. (A fresh
            // host was refused its first registration when the shared pool stalled for a second.) The check is
            // tested on its own in AdmissionControlTests, and runs in the server processes of the other suites.
            ["Admission:MaxQueueDelay"] = "00:00:00",
        };
        foreach (var (key, value) in mode.Concat(overrides ?? []))
        {
            _settings[key] = value;
        }
    }

    public string DataDirectory { get; }

    protected IReadOnlyDictionary<string, string?> Settings => _settings;

    /// <summary>The value of Admin:Secret, for the X-Admin-Secret header.</summary>
    public string AdminHeaderValue => _settings["Admin:Secret"] ?? "";

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

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Directory.Exists(DataDirectory))
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
