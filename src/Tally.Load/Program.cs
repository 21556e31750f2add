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
var console = Tally.Load.Cli.Terminal.Configure(AnsiConsole.Console, Console.IsOutputRedirected);
return await Tally.Load.Cli.App.RunAsync(args, console, interrupt.Token).ConfigureAwait(false);
