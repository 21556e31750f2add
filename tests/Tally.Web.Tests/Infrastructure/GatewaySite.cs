#if TALLY_GATEWAY
using Tally.Testing;

namespace Tally.Web.Tests.Infrastructure;

/// <summary>
/// The browser talks to Tally.Gateway (src/Tally.Gateway, built here from its project), which proxies the web app,
/// the API and /ws to Tally and adds its security headers.
/// </summary>
public sealed class GatewaySite : WebAppSite
{
    private ServerProcess? _gateway;
    private string _workDirectory = string.Empty;

    public override string Name => "gateway";

    public override Uri BaseUrl => (_gateway ?? throw new InvalidOperationException("the gateway is not started")).BaseUrl;

    public override string Output => $"{base.Output}\n--- gateway ---\n{_gateway?.Output}";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var project = Path.Combine(Repository.Root, "src", "Tally.Gateway", "Tally.Gateway.csproj");
        await BuildAsync(project);
        _workDirectory = Directory.CreateTempSubdirectory("tally-web-gateway-").FullName;
        var dll = Path.Combine(Repository.Root, "src", "Tally.Gateway", "bin", Repository.Configuration, "net10.0", "Tally.Gateway.dll");
        _gateway = await ServerProcess.StartAsync(dll, _workDirectory, new Dictionary<string, string>
        {
            ["Gateway__Backends__0"] = TallyUrl.ToString().TrimEnd('/'),
            ["Logging__LogLevel__Default"] = "Warning",
        }, "/ready");
    }

    // Up to date after ./test.sh's solution build, so this is quick there; run alone, it builds the gateway.
    private static async Task BuildAsync(string project)
    {
        Assert.True(File.Exists(project), $"{project} is missing");
        // No build servers: nothing of this build outlives it (or holds the test host's pipes open).
        var build = await Command.RunAsync("dotnet", ["build", project, "-c", Repository.Configuration, "--nologo", "-v", "quiet", "--disable-build-servers"], timeout: TimeSpan.FromMinutes(5));
        Assert.True(build.ExitCode == 0, $"dotnet build {project} failed:\n{build.All}");
    }

    public override async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
        await base.DisposeAsync();
        try
        {
            Directory.Delete(_workDirectory, recursive: true);
        }
        catch (IOException)
        {
            // The temp folder is the OS's to clean if a file is still held.
        }
    }
}
#endif
