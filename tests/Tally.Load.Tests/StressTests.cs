using Tally.Load.Cli;

namespace Tally.Load.Tests;

/// <summary>
/// The stress command against stubs whose limit is known: 8 slots of 25 ms, so 320 req/s. One
/// refuses at once (503 OVERLOADED with Retry-After) when every slot is busy, as Tally's admission
/// control does; the other queues, as a server without admission control does.
/// </summary>
public sealed class StressTests : IDisposable
{
    private const double Limit = 8 / 0.025;
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-load-stress").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static Task<StubServer> RefusingStub() => StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(25), 8, refuseWhenFull: true);

    private static List<JsonElement> Phases(JsonDocument doc) => [.. doc.RootElement.GetProperty("stress").GetProperty("phases").EnumerateArray()];

    [Fact]
    public async Task Stress_RefusingServer_RefusesFastInOverload_KeepsGoodputNearItsLimit_AndMeetsTheExpectations()
    {
        await using var stub = await RefusingStub();
        string json = Path.Combine(_dir, "s.json"), html = Path.Combine(_dir, "s.html");

        var (code, output) = await TestConsole.RunAsync("stress", "--url", stub.Url.ToString(), "--capacity", "320",
            "--phases", "0.5,2,3,0.5", "--phase-duration", "2s", "--slo", "p95<300ms,errors<5%",
            "--expect", "goodput>=0.7,accepted-p99<300ms,refused-p99<250ms,recovery<2s,memory<=1.5,no-healthy-upstream<=0,probe-max<300ms",
            "--json", json, "--html", html);

        Assert.True(code == ExitCodes.Ok, output);
        Assert.Contains("OVERLOADED", output, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var phases = Phases(doc);
        Assert.Equal(["base", "overload", "overload", "recovery"], phases.Select(p => p.GetProperty("role").GetString()));
        foreach (var overload in phases.Where(p => p.GetProperty("role").GetString() == "overload"))
        {
            var refused = overload.GetProperty("refused").GetInt64();
            Assert.True(refused > 0, overload.ToString());
            Assert.True(overload.GetProperty("refused_by_kind").GetProperty("503 OVERLOADED").GetInt64() == refused, overload.ToString());
            // Goodput stays close to the limit, not far below it and never above it.
            Assert.InRange(overload.GetProperty("goodput_rps").GetDouble(), 0.7 * Limit, 1.05 * Limit);
            // A refusal costs no service time: faster than one accepted request's 25 ms.
            Assert.True(overload.GetProperty("refused_latency").GetProperty("p50").GetDouble() < 25, overload.ToString());
            Assert.True(overload.GetProperty("accepted_latency").GetProperty("p50").GetDouble() >= 25, overload.ToString());
            Assert.True(overload.GetProperty("offered_rps").GetDouble() > 1.5 * Limit, overload.ToString());
            // The user sending one request at a time got each one served in time or refused.
            var probe = overload.GetProperty("probe");
            Assert.True(probe.GetProperty("requests").GetInt64() > 0, probe.ToString());
            Assert.Equal(probe.GetProperty("requests").GetInt64(), probe.GetProperty("within_slo").GetInt64() + probe.GetProperty("refused").GetInt64());
        }
        Assert.Contains("one request at a time", output, StringComparison.Ordinal);
        Assert.Equal(stub.Refused, phases.Sum(p => p.GetProperty("refused").GetInt64()
            + (p.GetProperty("probe") is { ValueKind: JsonValueKind.Object } probe ? probe.GetProperty("refused").GetInt64() : 0)));
        Assert.True(doc.RootElement.GetProperty("stress").GetProperty("expectations_passed").GetBoolean());
    }

    [Fact]
    public async Task Stress_Json_HasEveryPhaseFigure_AndThePerSecondSeries_AndTheHtmlDrawsThePhases()
    {
        await using var stub = await RefusingStub();
        string json = Path.Combine(_dir, "s.json"), html = Path.Combine(_dir, "s.html");

        var (code, output) = await TestConsole.RunAsync("stress", "--url", stub.Url.ToString(), "--capacity", "320",
            "--phases", "0.5,2,0.5", "--phase-duration", "2s", "--json", json, "--html", html, "--quiet");

        Assert.True(code == ExitCodes.Ok, output);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = doc.RootElement;
        Assert.Equal("stress", root.GetProperty("command").GetString());
        var stress = root.GetProperty("stress");
        foreach (var name in new[] { "model", "capacity", "capacity_unit", "capacity_rps", "capacity_source", "slo", "slo_latency_ms", "phase_duration_seconds", "interrupted", "phases", "recovery_seconds", "no_healthy_upstream", "expectations", "expectations_passed" })
        {
            Assert.True(stress.TryGetProperty(name, out _), $"stress.{name} missing: {stress}");
        }
        Assert.Equal("open", stress.GetProperty("model").GetString());
        Assert.Equal(320, stress.GetProperty("capacity").GetDouble());
        Assert.Equal("given", stress.GetProperty("capacity_source").GetString());
        var phases = Phases(doc);
        Assert.Equal(3, phases.Count);
        foreach (var p in phases)
        {
            foreach (var name in new[] { "index", "role", "multiplier", "target", "start_seconds", "duration_seconds", "measured_seconds", "sent", "dropped", "offered_rps", "accepted", "good", "goodput_rps", "goodput_fraction", "refused", "refused_rps", "refused_by_kind", "refused_latency", "accepted_latency", "errors", "error_rate_percent", "errors_by_kind", "no_healthy_upstream", "working_set_mb_max", "memory_ratio", "server_cpu_percent_mean", "generator_cpu_percent_mean", "recovery_seconds", "seconds", "probe" })
            {
                Assert.True(p.TryGetProperty(name, out _), $"phase.{name} missing: {p}");
            }
            var seconds = p.GetProperty("seconds").EnumerateArray().ToList();
            Assert.Equal(2, seconds.Count);
            Assert.Equal(p.GetProperty("sent").GetInt64(), seconds.Sum(s => s.GetProperty("sent").GetInt64()));
            Assert.All(seconds, s => Assert.True(s.TryGetProperty("accepted_p95", out _) && s.TryGetProperty("refused_p99", out _) && s.TryGetProperty("goodput_rps", out _) && s.TryGetProperty("healthy", out _)));
            // The stub's /metrics reports a constant 100 MB working set.
            Assert.Equal(100, p.GetProperty("working_set_mb_max").GetDouble());
        }
        Assert.Equal(1.0, phases[2].GetProperty("memory_ratio").GetDouble());
        Assert.True(phases[2].GetProperty("recovery_seconds").ValueKind == JsonValueKind.Number, phases[2].ToString());
        Assert.Equal(JsonValueKind.Null, phases[1].GetProperty("recovery_seconds").ValueKind);
        Assert.Equal(160, phases[0].GetProperty("target").GetDouble());
        Assert.Equal(640, phases[1].GetProperty("target").GetDouble());

        var page = await File.ReadAllTextAsync(html);
        Assert.Contains("Offered, goodput and refused per second", page, StringComparison.Ordinal);
        Assert.Contains("accepted p50/p95/p99 and refused p99", page, StringComparison.Ordinal);
        // Two phase boundaries after time 0 on each of the three charts (throughput, latency, working set).
        Assert.True(CountOf(page, "class=\"boundary\"") >= 6, "phase boundaries missing");
    }

    private static int CountOf(string text, string part)
    {
        var n = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            n++;
        }
        return n;
    }

    [Fact]
    public async Task Stress_AnExpectationNoServerCanMeet_ExitsWithSloBreached()
    {
        await using var stub = await RefusingStub();
        var (code, output) = await TestConsole.RunAsync("stress", "--url", stub.Url.ToString(), "--capacity", "320",
            "--phases", "0.5,2", "--phase-duration", "1s", "--expect", "goodput@2>=1.5", "--quiet");

        Assert.True(code == ExitCodes.SloBreached, output);
        Assert.Contains("expect goodput@2>=1.5 [phase 1, 2×]", output, StringComparison.Ordinal);
        Assert.Contains("BREACHED", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stress_QueueingServer_AcceptedLatencyBreaksTheSlo_NothingIsRefused_AndItDoesNotRecover()
    {
        // No admission control: past 320 req/s every request waits its turn.
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(25), 8);
        var json = Path.Combine(_dir, "q.json");

        var (code, output) = await TestConsole.RunAsync("stress", "--url", stub.Url.ToString(), "--capacity", "320",
            "--phases", "0.5,2,0.5", "--phase-duration", "2s", "--expect", "accepted-p99<300ms,recovery<2s,probe-max<300ms", "--json", json, "--quiet");

        Assert.True(code == ExitCodes.SloBreached, output);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var phases = Phases(doc);
        Assert.All(phases, p => Assert.Equal(0, p.GetProperty("refused").GetInt64()));
        // 320 req/s of backlog a second for 2 s: the last arrivals wait about 2 s.
        Assert.True(phases[1].GetProperty("accepted_latency").GetProperty("p99").GetDouble() > 300, phases[1].ToString());
        Assert.Equal(JsonValueKind.Null, phases[2].GetProperty("recovery_seconds").ValueKind);
        var verdicts = doc.RootElement.GetProperty("stress").GetProperty("expectations").EnumerateArray().ToList();
        Assert.Contains(verdicts, v => v.GetProperty("expression").GetString() == "accepted-p99<300ms" && !v.GetProperty("pass").GetBoolean());
        Assert.Contains(verdicts, v => v.GetProperty("expression").GetString() == "recovery<2s" && !v.GetProperty("pass").GetBoolean());
        // The one-at-a-time user waits in the same queue: some of its requests take longer than the SLO.
        Assert.True(phases[1].GetProperty("probe").GetProperty("slow").GetInt64() > 0, phases[1].ToString());
        Assert.Contains(verdicts, v => v.GetProperty("expression").GetString() == "probe-max<300ms" && !v.GetProperty("pass").GetBoolean());
    }

    [Fact]
    public async Task Stress_ClosedModel_MultipliesTheUsers_AndEstimatesTheCapacityRateFromTheBase()
    {
        await using var stub = await RefusingStub();
        var json = Path.Combine(_dir, "c.json");

        var (code, output) = await TestConsole.RunAsync("stress", "--url", stub.Url.ToString(), "--vus", "--capacity", "8", "--think", "50ms",
            "--phases", "0.5,3,0.5", "--phase-duration", "2s", "--json", json, "--quiet");

        Assert.True(code == ExitCodes.Ok, output);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var stress = doc.RootElement.GetProperty("stress");
        Assert.Equal("closed", stress.GetProperty("model").GetString());
        Assert.Equal("users", stress.GetProperty("capacity_unit").GetString());
        Assert.Equal([4.0, 24.0, 4.0], Phases(doc).Select(p => p.GetProperty("target").GetDouble()));
        // 8 users each sending every 50 ms think + 25 ms service: about 8 / 0.075 s.
        Assert.InRange(stress.GetProperty("capacity_rps").GetDouble(), 60, 115);
        Assert.True(Phases(doc)[1].GetProperty("sent").GetInt64() > Phases(doc)[0].GetProperty("sent").GetInt64() * 2);
    }

    [Fact]
    public async Task Stress_WithoutACapacity_SearchesItFirst()
    {
        await using var stub = await RefusingStub();
        var json = Path.Combine(_dir, "search.json");

        // Steps of 100, 200, 400...: 400 is past the limit, refused in part, and fails (refusals are errors to the SLO).
        var (code, output) = await TestConsole.RunAsync("stress", "--url", stub.Url.ToString(), "--start", "100", "--max-steps", "4",
            "--warmup", "500ms", "--step", "2s", "--cooldown", "200ms", "--phases", "0.5,2,0.5", "--phase-duration", "1s", "--json", json, "--quiet");

        Assert.True(code == ExitCodes.Ok, output);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var stress = doc.RootElement.GetProperty("stress");
        Assert.Equal("searched", stress.GetProperty("capacity_source").GetString());
        var capacity = doc.RootElement.GetProperty("capacity");
        Assert.Equal(capacity.GetProperty("max_sustainable_rps").GetDouble(), stress.GetProperty("capacity").GetDouble());
        Assert.InRange(stress.GetProperty("capacity").GetDouble(), 90, Limit);
        Assert.Equal(stress.GetProperty("capacity").GetDouble() * 2, Phases(doc)[1].GetProperty("target").GetDouble(), 1);
    }

    [Fact]
    public async Task Stress_Interrupted_StopsAndStillWritesWhatWasMeasured()
    {
        await using var stub = await RefusingStub();
        var json = Path.Combine(_dir, "i.json");
        using var writer = new StringWriter();
        using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(3));

        var code = await App.RunAsync(["stress", "--url", stub.Url.ToString(), "--capacity", "100", "--phases", "0.5,2,0.5",
            "--phase-duration", "2s", "--expect", "goodput>=0.5", "--json", json, "--quiet"], TestConsole.Create(writer), interrupt.Token);

        Assert.True(code == ExitCodes.Aborted, writer.ToString());
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        Assert.True(doc.RootElement.GetProperty("stress").GetProperty("interrupted").GetBoolean());
        var phases = Phases(doc);
        Assert.Equal(2, phases[0].GetProperty("measured_seconds").GetDouble());
        Assert.Equal(0, phases[2].GetProperty("measured_seconds").GetDouble());
        Assert.True(phases[0].GetProperty("sent").GetInt64() > 0);
    }

    [Theory]
    [InlineData("--capacity", "100", "--expect", "goodput>>0.9")]
    [InlineData("--capacity", "100", "--expect", "speed>1")]
    [InlineData("--capacity", "100", "--expect", "goodput>=0.9ms")]
    [InlineData("--capacity", "100", "--expect", "goodput@7>=0.9")]
    [InlineData("--capacity", "100", "--expect", "recovery@2<5s")]
    [InlineData("--capacity", "100", "--phases", "0.5,2", "--expect", "recovery<5s")]
    [InlineData("--capacity", "100", "--phases", "0.5,0.8", "--expect", "goodput>=0.9")]
    [InlineData("--capacity", "100", "--phases", "0.5,-2")]
    [InlineData("--capacity", "0")]
    [InlineData("--capacity", "100", "--phase-duration", "soon")]
    [InlineData("--capacity", "100", "--slo", "p95<fast")]
    public async Task Stress_BadArguments_ExitWithUsage(params string[] options)
    {
        var (code, output) = await TestConsole.RunAsync(["stress", "--url", "http://127.0.0.1:1/work", .. options]);
        Assert.True(code == ExitCodes.Usage, output);
    }
}
