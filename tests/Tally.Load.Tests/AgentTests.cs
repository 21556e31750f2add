using HdrHistogram;
using Tally.Load.Cli;
using Tally.Load.Engine;

namespace Tally.Load.Tests;

/// <summary>
/// A run split over agents: each agent is a separate `tally-load agent` process on loopback, the
/// coordinator is the test's own tally-load. The stub's true limit is 8 slots of 25 ms, 320 req/s.
/// </summary>
public sealed class AgentTests(ITestOutputHelper log) : IDisposable
{
    private const double TrueLimit = 8 / 0.025;
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-load-agents").FullName;
    private readonly List<AgentProcess> _agents = [];

    public void Dispose()
    {
        foreach (var agent in _agents)
        {
            agent.Dispose();
        }
        Directory.Delete(_dir, true);
    }

    private AgentProcess StartAgent()
    {
        var agent = AgentProcess.Start();
        _agents.Add(agent);
        return agent;
    }

    [Fact]
    public void Metrics_MergedShares_GiveTheSamePercentilesAsAllTheSamplesInOneHistogram()
    {
        var endpoints = new[] { "a", "b" };
        var whole = new Metrics(endpoints);
        var shares = new[] { new Metrics(endpoints), new Metrics(endpoints), new Metrics(endpoints) };
        var raw = new LongHistogram(1, 3_600_000_000, 3);
        var random = new Random(42);
        var t0 = Stopwatch.GetTimestamp();
        foreach (var m in shares.Append(whole))
        {
            m.SetWindow(t0, t0 + 10 * Stopwatch.Frequency);
        }
        for (var i = 0; i < 30_000; i++)
        {
            // A long-tailed latency, from 50 µs to seconds.
            var micros = (long)(50 + Math.Exp(random.NextDouble() * 15));
            var origin = t0 + (long)(random.NextDouble() * 9 * Stopwatch.Frequency);
            var end = origin + micros * Stopwatch.Frequency / 1_000_000;
            var endpoint = i % 2;
            var ok = i % 17 != 0;
            shares[i % 3].Record(endpoint, origin, end, ok, ok ? null : "503 OVERLOADED");
            whole.Record(endpoint, origin, end, ok, ok ? null : "503 OVERLOADED");
            raw.RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(origin, end).TotalMicroseconds));
        }
        var merged = shares[0];
        merged.Merge(JsonRoundTrip(shares[1].Export()));
        merged.Merge(JsonRoundTrip(shares[2].Export()));

        var a = merged.Summarize(10);
        var b = whole.Summarize(10);
        Assert.Equal(b.Requests, a.Requests);
        Assert.Equal(b.Errors, a.Errors);
        Assert.Equal(b.CompletedInWindow, a.CompletedInWindow);
        Assert.Equal(b.SteadyRps, a.SteadyRps);
        Assert.Equal(b.ErrorsByKind, a.ErrorsByKind);
        foreach (var p in new[] { 50, 90, 95, 99, 99.9, 100 })
        {
            Assert.Equal(raw.GetValueAtPercentile(p) / 1000.0, a.Latency.At(p));
            Assert.Equal(b.Latency.At(p), a.Latency.At(p));
        }
        for (var e = 0; e < endpoints.Length; e++)
        {
            Assert.Equal(b.Endpoints[e].Requests, a.Endpoints[e].Requests);
            Assert.Equal(b.Endpoints[e].Latency.P99, a.Endpoints[e].Latency.P99);
        }
    }

    private static MetricsState JsonRoundTrip(MetricsState state) =>
        JsonSerializer.Deserialize<MetricsState>(JsonSerializer.Serialize(state))!;

    [Fact]
    public async Task Run_SplitOverTwoAgentProcesses_SendsEveryArrivalOnce_InThreeEqualShares()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(25), 8);
        var agents = $"{StartAgent().Address},{StartAgent().Address}";
        var json = Path.Combine(_dir, "run.json");

        var (code, output) = await TestConsole.RunAsync("run", "--url", stub.Url.ToString(), "--rate", "150", "--duration", "3s",
            "--server-metrics", "off", "--agents", agents, "--json", json);
        log.WriteLine(output);

        Assert.True(code == ExitCodes.Ok, output);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = doc.RootElement;
        // 150 arrivals a second for 3 s: 450, each sent by exactly one of the three generators.
        Assert.Equal(450, root.GetProperty("summary").GetProperty("requests").GetInt64());
        Assert.Equal(450, stub.Received);
        var shares = root.GetProperty("agents").EnumerateArray().ToList();
        Assert.Equal(3, shares.Count);
        Assert.Equal("coordinator", shares[0].GetProperty("address").GetString());
        Assert.All(shares, s => Assert.Equal(150, s.GetProperty("requests").GetInt64()));
        Assert.All(shares.Skip(1), s => Assert.True(s.GetProperty("cpu_percent").GetDouble() > 0, s.ToString()));
        // The per-second slices that `compare` reads hold every generator's requests.
        Assert.Equal(450, root.GetProperty("per_second").GetProperty("endpoints").EnumerateArray()
            .Sum(e => e.GetProperty("seconds").EnumerateArray().Sum(x => x.GetProperty("requests").GetInt64())));
        // The series adds up the three shares, second by second.
        Assert.InRange(root.GetProperty("series").EnumerateArray().Sum(x => x.GetProperty("rps").GetDouble()), 400, 460);
    }

    [Fact]
    public async Task ScenarioFile_Run_SendsTheFileAndItsDataToTheAgent_WhichRunsItsShare()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.Zero);
        // The data path is relative to the scenario file, which only the coordinator can resolve:
        // the agent runs on what the coordinator sends.
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "scenario")).FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "people.csv"), "phone,name\n5550001,ann\n5550002,bob\n");
        var file = Path.Combine(folder, "echo.yaml");
        await File.WriteAllTextAsync(file, """
            name: echo
            data: { file: people.csv }
            flows:
              - steps:
                  - name: hello
                    request: POST /echo
                    json: { from: "{{user.name}}", to: "{{peer.phone}}" }
                    check: { json: { $.body.from: "{{user.name}}" } }
            """);
        var json = Path.Combine(_dir, "file-run.json");
        var (code, output) = await TestConsole.RunAsync("run", "--scenario-file", file, "--target", stub.Root.ToString(), "--rate", "100", "--duration", "2s",
            "--server-metrics", "off", "--agents", StartAgent().Address, "--json", json);
        log.WriteLine(output);

        Assert.True(code == ExitCodes.Ok, output);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var summary = doc.RootElement.GetProperty("summary");
        Assert.Equal(200, summary.GetProperty("requests").GetInt64());
        Assert.Equal(0, summary.GetProperty("errors").GetInt64());
        Assert.Equal("hello", summary.GetProperty("endpoints")[0].GetProperty("name").GetString());
        Assert.All(doc.RootElement.GetProperty("agents").EnumerateArray(), s => Assert.Equal(100, s.GetProperty("requests").GetInt64()));
        Assert.Equal(200, stub.Echoed.Count);
    }

    [Fact]
    public async Task Stress_SplitOverTwoAgentProcesses_SortsEveryRequestIntoItsPhase_AndRefusalsAddUp()
    {
        // The stub refuses (503 OVERLOADED, Retry-After) what would wait more than one service time: 320 req/s.
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(25), 8, refuseWhenFull: true);
        var agents = $"{StartAgent().Address},{StartAgent().Address}";
        var json = Path.Combine(_dir, "stress.json");

        var (code, output) = await TestConsole.RunAsync("stress", "--url", stub.Url.ToString(), "--capacity", "300", "--phases", "0.5,2,0.5",
            "--phase-duration", "2s", "--probe-think", "off", "--server-metrics", "off", "--agents", agents, "--json", json, "--quiet");
        log.WriteLine(output);

        Assert.True(code == ExitCodes.Ok, output);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = doc.RootElement;
        var phases = root.GetProperty("stress").GetProperty("phases").EnumerateArray().ToList();
        // 150, 600 and 150 arrivals a second for 2 s each, split over three generators, each sorted into its phase once
        // (an arrival due exactly at a boundary may fall on either side of it).
        var arrivals = phases.Select(p => p.GetProperty("sent").GetInt64() + p.GetProperty("dropped").GetInt64()).ToList();
        Assert.Equal(1800, arrivals.Sum());
        Assert.All(arrivals.Zip([300L, 1200, 300]), x => Assert.InRange(x.First, x.Second - 3, x.Second + 3));
        Assert.All(phases, p => Assert.Equal(p.GetProperty("sent").GetInt64(),
            p.GetProperty("accepted").GetInt64() + p.GetProperty("refused").GetInt64() + p.GetProperty("errors").GetInt64()));
        Assert.Equal(stub.Received, phases.Sum(p => p.GetProperty("sent").GetInt64()));
        // Every refusal the stub made, wherever it was sent from, is in the phases.
        Assert.Equal(stub.Refused, phases.Sum(p => p.GetProperty("refused").GetInt64()));
        Assert.True(phases[1].GetProperty("refused").GetInt64() > 0, phases[1].ToString());
        // The per-second series of the overload phase holds all three generators' requests.
        Assert.Equal(phases[1].GetProperty("sent").GetInt64(), phases[1].GetProperty("seconds").EnumerateArray().Sum(x => x.GetProperty("sent").GetInt64()));
        var shares = root.GetProperty("agents").EnumerateArray().ToList();
        Assert.Equal(3, shares.Count);
        Assert.All(shares, s => Assert.Equal(600, s.GetProperty("requests").GetInt64()));
    }

    [Fact]
    public async Task AnAgentOnAPortAlreadyListenedOn_FailsWithAClearMessage()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var (code, output) = await TestConsole.RunAsync("agent", "--listen", $"127.0.0.1:{port}");
        Assert.True(code == ExitCodes.Failure, output);
        Assert.Contains($"error: the agent cannot listen on 127.0.0.1:{port}", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAgentThatPreparedOtherEndpoints_IsRefusedBeforeTheRun()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.Zero);
        // A fake agent (another tally-load version, say) that compiles the scenario to other endpoints.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var fake = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            await using var stream = client.GetStream();
            using var reader = new StreamReader(stream);
            await reader.ReadLineAsync();
            await stream.WriteAsync("{\"type\":\"ready\",\"scenario\":\"url\",\"endpoints\":[\"GET /elsewhere\"]}\n"u8.ToArray());
            await reader.ReadLineAsync();
        });
        var (code, output) = await TestConsole.RunAsync("run", "--url", stub.Url.ToString(), "--rate", "10", "--duration", "1s",
            "--server-metrics", "off", "--agents", $"127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}");
        Assert.True(code == ExitCodes.Failure, output);
        Assert.Contains("prepared the endpoints GET /elsewhere, the coordinator GET /work: not the same scenario", output, StringComparison.Ordinal);
        Assert.Equal(0, stub.Received);
        await fake.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Capacity_SplitOverTwoAgentProcesses_FindsTheStubsLimit_AsOneGeneratorDoes()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(25), 8);
        var agents = $"{StartAgent().Address},{StartAgent().Address}";
        var json = Path.Combine(_dir, "capacity.json");

        var (code, output) = await TestConsole.RunAsync("capacity", "--url", stub.Url.ToString(), "--warmup", "500ms", "--step", "2s", "--cooldown", "500ms",
            "--server-metrics", "off", "--slo", "p95<500ms,errors<1%", "--max-vus", "64", "--start", "100", "--factor", "2", "--precision", "0.05",
            "--agents", agents, "--json", json);
        log.WriteLine(output);

        Assert.True(code == ExitCodes.Ok, output);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var found = doc.RootElement.GetProperty("capacity").GetProperty("max_sustainable_rps").GetDouble();
        Assert.InRange(found, 0.9 * TrueLimit, 1.1 * TrueLimit);
    }

    [Fact]
    public async Task Run_AnAgentKilledMidRun_FailsTheRun_WithAClearMessage()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(5), 0);
        var victim = StartAgent();
        var json = Path.Combine(_dir, "killed.json");

        var run = TestConsole.RunAsync("run", "--url", stub.Url.ToString(), "--rate", "100", "--duration", "20s",
            "--server-metrics", "off", "--agents", $"{StartAgent().Address},{victim.Address}", "--json", json);
        // Once the victim has sent part of its share, it dies.
        var deadline = Stopwatch.StartNew();
        while (stub.Received < 100 && deadline.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(50);
        }
        victim.Kill();
        var (code, output) = await run.WaitAsync(TimeSpan.FromSeconds(60));
        log.WriteLine(output);

        Assert.Equal(ExitCodes.Failure, code);
        Assert.Contains($"agent {victim.Address} disappeared mid-run", output, StringComparison.Ordinal);
        // It failed at once, not after the 20 s it was meant to last, and wrote no result that could pass for a smaller run.
        Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), $"took {deadline.Elapsed}");
        Assert.False(File.Exists(json));
    }

    [Fact]
    public async Task Agent_RefusesATargetOutsideLoopback()
    {
        var agent = StartAgent();

        var (code, output) = await TestConsole.RunAsync("run", "--url", "http://192.0.2.10/x", "--rate", "10", "--duration", "1s",
            "--server-metrics", "off", "--agents", agent.Address);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("not a loopback address", output, StringComparison.Ordinal);

        // A coordinator that names a public target to the agent directly gets the agent's refusal.
        var e = await Assert.ThrowsAsync<Distributed.AgentException>(() => Distributed.AgentPool.ConnectAsync(agent.Address,
            new Distributed.SetupMessage("http://192.0.2.10/", null, "http://192.0.2.10/x", null, 0, 4, 1000), CancellationToken.None));
        Assert.Contains("not a loopback address", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A `tally-load agent --listen 127.0.0.1:0` process; its address is read from its first line.</summary>
    private sealed class AgentProcess : IDisposable
    {
        private readonly Process _process;

        private AgentProcess(Process process, string address)
        {
            _process = process;
            Address = address;
        }

        public string Address { get; }

        public static AgentProcess Start()
        {
            var dll = typeof(App).Assembly.Location;
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[] { dll, "agent", "--listen", "127.0.0.1:0" })
            {
                start.ArgumentList.Add(arg);
            }
            const string prefix = "tally-load agent listening on ";
            var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var process = Process.Start(start)!;
            // Every line is read, or a full pipe would block the agent.
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    listening.TrySetException(new InvalidOperationException("the agent exited before it listened"));
                }
                else if (e.Data.StartsWith(prefix, StringComparison.Ordinal))
                {
                    listening.TrySetResult(e.Data[prefix.Length..].Trim());
                }
            };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return new AgentProcess(process, listening.Task.WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult());
        }

        public void Kill() => _process.Kill(entireProcessTree: true);

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
            _process.Dispose();
        }
    }
}
