using Tally.Testing;

namespace Tally.Load.Tests.EndToEnd;

/// <summary>Headless Chromium (/usr/bin/chromium): a screenshot, the DOM after scripts ran, and what the page logged.</summary>
internal static class Chromium
{
    public const string Path = "/usr/bin/chromium";

    public sealed record Page(string Dom, IReadOnlyList<string> ConsoleLines, Png.Image Screenshot);

    public static async Task<Page> OpenAsync(string htmlFile, string workDir)
    {
        var url = new Uri(System.IO.Path.GetFullPath(htmlFile)).AbsoluteUri;
        var png = System.IO.Path.Combine(workDir, System.IO.Path.GetFileNameWithoutExtension(htmlFile) + ".png");
        var (_, shotLog) = await RunAsync(workDir, $"--window-size=1000,1400", $"--screenshot={png}", url);
        var (dom, domLog) = await RunAsync(workDir, "--dump-dom", url);
        // Chromium logs every console message and uncaught error of the page as a "CONSOLE" line;
        // its own D-Bus, GPU and sandbox warnings are not.
        var console = shotLog.Concat(domLog).Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal)).ToList();
        Assert.True(File.Exists(png), $"no screenshot of {htmlFile}:\n{string.Join('\n', shotLog)}");
        return new Page(dom, console, Png.Read(png));
    }

    private static async Task<(string Stdout, List<string> Log)> RunAsync(string workDir, params string[] args)
    {
        var result = await Command.RunAsync(Path, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            $"--user-data-dir={System.IO.Path.Combine(workDir, "chromium-profile")}", "--enable-logging=stderr", "--v=0", .. args],
            timeout: TimeSpan.FromSeconds(60));
        return (result.Output, [.. result.Error.Split('\n')]);
    }
}
