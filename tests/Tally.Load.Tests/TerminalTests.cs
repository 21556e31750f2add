using Spectre.Console;
using Tally.Load.Cli;

namespace Tally.Load.Tests;

public sealed class TerminalTests
{
    private static readonly string LongPath = "/work/" + string.Join('/', Enumerable.Range(0, 12).Select(i => $"segment-{i:00}"));

    /// <summary>The summary of a run with one endpoint whose name is far wider than 80 columns, as Program.cs sets the console up.</summary>
    private static async Task<(int Code, string Output)> RunAsync(StubServer stub, bool outputRedirected)
    {
        using var writer = new StringWriter();
        // A console writing to anything but the terminal, as stdout redirected to a file is: Spectre assumes 80 columns.
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        Terminal.Configure(console, outputRedirected);
        var code = await App.RunAsync(["run", "--url", new Uri(stub.Url, LongPath).ToString(), "--vus", "2", "--duration", "1s", "--server-metrics", "off", "--quiet"],
            console, CancellationToken.None);
        return (code, writer.ToString());
    }

    [Fact]
    public async Task Summary_WithRedirectedOutput_KeepsEveryEndpointNameOnOneLine()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(1));
        var name = "GET " + LongPath;

        var (code, output) = await RunAsync(stub, outputRedirected: true);

        Assert.True(code == ExitCodes.Ok, output);
        Assert.True(name.Length > 120, name);
        var line = Assert.Single(output.Split('\n'), l => l.Contains("GET /work", StringComparison.Ordinal));
        Assert.Contains(name, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Summary_OnAnEightyColumnConsole_WouldBreakTheName()
    {
        // The failure the redirected layout prevents: without it the same table wraps the name.
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(1));

        var (code, output) = await RunAsync(stub, outputRedirected: false);

        Assert.True(code == ExitCodes.Ok, output);
        Assert.DoesNotContain("GET " + LongPath, output, StringComparison.Ordinal);
    }
}
