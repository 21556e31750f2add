using Tally.Testing;

namespace Tally.Web.Tests.Infrastructure;

/// <summary>
/// Where the browser reaches Tally's web app. The end-to-end scenario runs unchanged against every site:
/// Tally alone, or Tally behind the gateway.
/// </summary>
public abstract class WebAppSite : IAsyncLifetime
{
    public const string AdminSecret = "web-e2e-admin-secret";

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "tally-web-tests", Guid.NewGuid().ToString("N"));
    private ServerProcess? _tally;

    /// <summary>A short name for screenshots and messages.</summary>
    public abstract string Name { get; }

    /// <summary>The URL the browser opens.</summary>
    public abstract Uri BaseUrl { get; }

    protected Uri TallyUrl => (_tally ?? throw new InvalidOperationException("Tally is not started")).BaseUrl;

    /// <summary>What the servers printed, for failure messages.</summary>
    public virtual string Output => _tally?.Output ?? string.Empty;

    public virtual async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dataDirectory);
        _tally = await ServerProcess.StartEmbeddedTallyAsync(_dataDirectory, AdminSecret);
    }

    /// <summary>Kills Tally and starts it again on the same port and data: every open WebSocket drops.</summary>
    public Task RestartTallyAsync() => _tally!.RestartAsync();

    public virtual async Task DisposeAsync()
    {
        if (_tally is not null)
        {
            await _tally.DisposeAsync();
        }
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // The temp folder is the OS's to clean if a file is still held.
        }
    }
}

/// <summary>The browser talks to Tally.Server directly: the web app's own security headers are the only ones.</summary>
public sealed class DirectSite : WebAppSite
{
    public override string Name => "direct";

    public override Uri BaseUrl => TallyUrl;
}
