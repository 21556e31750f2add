using Spectre.Console;

namespace Tally.Load.Cli;

/// <summary>How wide tally-load lays out its tables.</summary>
public static class Terminal
{
    /// <summary>
    /// Redirected to a file, a pipe or CI, nothing reads the output's width and Spectre.Console
    /// would assume 80 columns, breaking endpoint names over several lines. A table is as wide as
    /// its content (none is expanded), so a width this large just means "never wrap".
    /// </summary>
    public const int RedirectedWidth = 4096;

    public static IAnsiConsole Configure(IAnsiConsole console, bool outputRedirected)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (outputRedirected)
        {
            console.Profile.Width = RedirectedWidth;
        }
        return console;
    }
}
