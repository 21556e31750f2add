using Spectre.Console;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Tally.Load.Tests;

internal static class TestConsole
{
    public static IAnsiConsole Create(StringWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        // Wide enough that a step or summary line stays on one line in the test output.
        console.Profile.Width = 200;
        return console;
    }

    public static async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        using var writer = new StringWriter();
        var code = await Cli.App.RunAsync(args, Create(writer), CancellationToken.None);
        return (code, writer.ToString());
    }
}
