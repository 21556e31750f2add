using System.Net;
using System.Net.Sockets;
using Spectre.Console;
using Tally.Load.Distributed;

namespace Tally.Load.Cli;

public static partial class App
{
    /// <summary>
    /// agent: a generator that takes its share of runs from a coordinator (run/capacity --agents).
    /// It prepares what the coordinator names (the same loopback-only target checks as a local
    /// run), then runs each step it is sent and answers with what it measured, exactly.
    /// </summary>
    private static async Task<int> AgentAsync(Arguments a, IAnsiConsole console, CancellationToken ct)
    {
        var (host, port) = AgentPool.ParseAddresses(a.String("listen", "127.0.0.1:7070"), listening: true)[0];
        a.EnsureAllUsed();
        var address = host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(host);
        using var listener = new TcpListener(address, port);
        // As servers do: a connection of an earlier run still in TIME_WAIT on this port must not keep the agent from listening.
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            listener.Start();
        }
        catch (SocketException e)
        {
            console.MarkupLineInterpolated($"[red]error:[/] the agent cannot listen on {host}:{port}: {e.Message}");
            return ExitCodes.Failure;
        }
        console.WriteLine($"tally-load agent listening on {listener.LocalEndpoint}");
        var coordinators = new List<Task>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var client = await listener.AcceptTcpClientAsync(ct).ConfigureAwait(false);
                coordinators.Add(ServeCoordinatorAsync(client, console, ct));
                coordinators.RemoveAll(t => t.IsCompleted);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            listener.Stop();
        }
        await Task.WhenAll(coordinators).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    private static async Task ServeCoordinatorAsync(TcpClient client, IAnsiConsole console, CancellationToken ct)
    {
        var peer = client.Client.RemoteEndPoint?.ToString() ?? "?";
        client.NoDelay = true;
        var channel = new AgentChannel(client.GetStream());
        Setup? setup = null;
        string? usersFile = null;
        string? scenarioFile = null;
        try
        {
            if (await channel.ReceiveAsync(ct).ConfigureAwait(false) is not SetupMessage s)
            {
                return;
            }
            try
            {
                var argv = new List<string> { "--target", s.Target, "--no-audit", "--server-metrics", "off" };
                if (s.Scenario is not null)
                {
                    argv.AddRange(["--scenario", s.Scenario]);
                }
                if (s.Url is not null)
                {
                    argv.AddRange(["--url", s.Url]);
                }
                if (s.ScenarioFile is not null)
                {
                    scenarioFile = Path.Combine(Path.GetTempPath(), $"tally-load-agent-{Guid.NewGuid():N}.yaml");
                    await File.WriteAllTextAsync(scenarioFile, s.ScenarioFile, ct).ConfigureAwait(false);
                    argv.AddRange(["--scenario-file", scenarioFile]);
                }
                if (s.Users is not null)
                {
                    var extension = Path.GetExtension(s.UsersName ?? "users.json") is ".csv" ? ".csv" : ".json";
                    usersFile = Path.Combine(Path.GetTempPath(), $"tally-load-agent-{Guid.NewGuid():N}{extension}");
                    await File.WriteAllTextAsync(usersFile, s.Users, ct).ConfigureAwait(false);
                    argv.AddRange(["--users-file", usersFile]);
                }
                if (s.WsClients > 0)
                {
                    argv.AddRange(["--ws-clients", s.WsClients.ToString(CultureInfo.InvariantCulture)]);
                }
                setup = await PrepareAsync(new Arguments(argv), s.Connections, TimeSpan.FromMilliseconds(s.TimeoutMs), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or HttpRequestException or IOException or JsonException)
            {
                console.WriteLine($"coordinator {peer}: setup refused: {e.Message}");
                await channel.SendAsync(new ErrorMessage(e.Message), ct).ConfigureAwait(false);
                return;
            }
            console.WriteLine($"coordinator {peer}: {setup.Scenario.Name} against {setup.Target}");
            await channel.SendAsync(new ReadyMessage(setup.Scenario.Name, setup.Scenario.Endpoints), ct).ConfigureAwait(false);
            while (await channel.ReceiveAsync(ct).ConfigureAwait(false) is StepMessage step)
            {
                var recorder = step.Stress is { } stress ? new Stress.StressRecorder(stress.Phases, stress.Latency, stress.Errors) : null;
                var engine = new LoadEngine(setup.Scenario, setup.Client, step.ToOptions() with { Observer = recorder });
                var r = await engine.RunAsync(ct).ConfigureAwait(false);
                recorder?.Stopped();
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"coordinator {peer}: share {step.PartitionIndex} of {step.PartitionCount}: {r.Summary.Requests} requests, {r.Summary.Rps:0.#} req/s, CPU {r.GeneratorCpuPercent:0.#}%"));
                await channel.SendAsync(new ResultMessage(
                    engine.Metrics.Export(), r.Series, [.. r.SeriesHistograms.Select(HistogramText.Encode)], r.Summary.DurationSeconds,
                    r.GeneratorCpuPercent, r.GeneratorCpuMaxPercent, r.BacklogAtEnd, r.Aborted, r.AbortReason) { Stress = recorder?.Export() }, ct).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // one coordinator's failure (it went away, sent garbage) must not end the agent
        catch (Exception e) when (!ct.IsCancellationRequested)
#pragma warning restore CA1031
        {
            console.WriteLine($"coordinator {peer}: {e.GetType().Name}: {e.Message}");
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            if (setup is not null)
            {
                await setup.DisposeAsync().ConfigureAwait(false);
            }
            foreach (var file in new[] { usersFile, scenarioFile })
            {
                if (file is not null)
                {
                    File.Delete(file);
                }
            }
            await channel.DisposeAsync().ConfigureAwait(false);
            client.Dispose();
        }
    }

    /// <summary>Runs the engine here, or split between this generator (share 0) and its agents; a lost agent fails the run.</summary>
    /// <returns>The result, and the metrics behind it (the agents' merged in).</returns>
    /// <param name="stress">A stress run: the agents sort their requests into its phases, and their phases are merged into <paramref name="options"/>' observer.</param>
    private static async Task<(EngineResult Result, Metrics Metrics)> RunEngineAsync(Setup setup, EngineOptions options, CancellationToken ct, Stress.StressSetup? stress = null)
    {
        if (setup.Agents is not { } pool)
        {
            var engine = new LoadEngine(setup.Scenario, setup.Client, options);
            return (await engine.RunAsync(ct).ConfigureAwait(false), engine.Metrics);
        }
        using var lost = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var local = new LoadEngine(setup.Scenario, setup.Client, options with { Partition = new Partition(0, pool.Count + 1) });
        // An agent lost mid-run ends the coordinator's share at once: the run is void anyway.
        var remote = pool.RunAsync(options, lost, ct, stress);
        var own = await local.RunAsync(lost.Token).ConfigureAwait(false);
        var results = await remote.ConfigureAwait(false);
        if (stress is not null && options.Observer is Stress.StressRecorder recorder)
        {
            foreach (var r in results)
            {
                recorder.Merge(r.Stress ?? throw new AgentException("an agent answered a stress run without its phases (an older agent?)"));
            }
        }
        return (pool.Merge(local, own, results), local.Metrics);
    }
}
