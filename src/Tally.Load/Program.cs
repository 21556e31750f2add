using Spectre.Console;

using var interrupt = new CancellationTokenSource();
// The first Ctrl+C stops the run cleanly (its report is still written); a second one ends the process.
Console.CancelKeyPress += (_, e) =>
{
    if (!interrupt.IsCancellationRequested)
    {
        e.Cancel = true;
        interrupt.Cancel();
    }
};
if (Console.IsOutputRedirected)
{
    // Redirected to a file or a pipe: tables are not wrapped at Spectre's 80-column default.
    AnsiConsole.Console.Profile.Width = 240;
}
return await Tally.Load.Cli.App.RunAsync(args, AnsiConsole.Console, interrupt.Token).ConfigureAwait(false);
