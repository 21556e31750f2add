return await Tally.Load.Cli.App.RunAsync(args, Spectre.Console.AnsiConsole.Console, CancellationToken.None).ConfigureAwait(false);
