using Tally.Load.Engine;
using Tally.Load.Scenarios;

namespace Tally.Load.Tests;

public class EngineTests
{
    private static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];

    [Fact]
    public async Task ClosedModel_Percentiles_MatchTheInjectedDistribution()
    {
        // Latencies spread evenly over 1..50 ms: a known, wide distribution.
        await using var stub = await StubServer.StartAsync(n => TimeSpan.FromMilliseconds(1 + n * 37 % 50));
        using var client = Http.CreateClient(4, TimeSpan.FromSeconds(10));
        var engine = new LoadEngine(new UrlScenario(stub.Url, HttpMethod.Get), client, new EngineOptions
        {
            Model = WorkloadModel.Closed, Profile = LoadProfile.Constant(4, TimeSpan.FromSeconds(5)), Warmup = TimeSpan.FromSeconds(1),
        });

        var run = engine.RunAsync(CancellationToken.None);
        // Compare with what the stub served after the warm-up (connections, JIT), as the tool measures.
        await Task.Delay(1100);
        stub.ServiceMs.Clear();
        var result = await run;

        var injected = stub.ServiceMs.OrderBy(x => x).ToList();
        Assert.True(result.Summary.Requests > 200, $"only {result.Summary.Requests} requests");
        Assert.Equal(0, result.Summary.Errors);
        foreach (var p in new[] { 50.0, 90, 95, 99 })
        {
            var expected = Percentile(injected, p);
            var actual = result.Summary.Latency.At(p);
            // The measured latency adds loopback and client time to the injected service time.
            Assert.True(Math.Abs(actual - expected) <= Math.Max(1.0, expected * 0.01),
                $"p{p}: measured {actual:0.###} ms, injected {expected:0.###} ms");
        }
    }

    [Fact]
    public async Task OpenModel_StallInTheMiddle_ShowsInP99AndMax()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(2));
        using var client = Http.CreateClient(32, TimeSpan.FromSeconds(10));
        var engine = new LoadEngine(new UrlScenario(stub.Url, HttpMethod.Get), client, new EngineOptions
        {
            Model = WorkloadModel.Open, Profile = LoadProfile.Constant(200, TimeSpan.FromSeconds(4)), MaxVus = 32,
        });

        var run = engine.RunAsync(CancellationToken.None);
        await Task.Delay(1500);
        stub.StallFor(TimeSpan.FromSeconds(1));
        var result = await run;

        // ~200 of ~800 arrivals fall in the stall; measured from their intended send time they
        // wait up to 1 s. A tool with coordinated omission would report only the 32 in flight.
        Assert.True(result.Summary.Latency.Max >= 900, $"max {result.Summary.Latency.Max} ms");
        Assert.True(result.Summary.Latency.P99 >= 800, $"p99 {result.Summary.Latency.P99} ms");
        Assert.True(result.Summary.Latency.P90 >= 200, $"p90 {result.Summary.Latency.P90} ms");
        Assert.Equal(0, result.Summary.Dropped);
    }

    [Fact]
    public async Task OpenModel_Overloaded_ReportsNoMoreThroughputThanTheServerDelivers()
    {
        // 8 slots × 25 ms: 320 req/s at most. At 640 arrivals/s the backlog grows all run long;
        // its completions during the drain must not count as throughput of the window.
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(25), 8);
        using var client = Http.CreateClient(64, TimeSpan.FromSeconds(10));
        var engine = new LoadEngine(new UrlScenario(stub.Url, HttpMethod.Get), client, new EngineOptions
        {
            Model = WorkloadModel.Open, Profile = LoadProfile.Constant(640, TimeSpan.FromSeconds(2)), MaxVus = 64,
            Warmup = TimeSpan.FromMilliseconds(500), Drain = TimeSpan.FromMilliseconds(500),
        });

        var result = await engine.RunAsync(CancellationToken.None);

        Assert.InRange(result.Summary.Rps, 250, 330);
        Assert.True(result.Summary.Dropped > 0, "arrivals still queued at the end must count as dropped");
        Assert.Equal(1.5, result.Summary.DurationSeconds, 1);
    }

    [Fact]
    public async Task ClosedModel_Stages_RampTheUsers()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(5));
        using var client = Http.CreateClient(6, TimeSpan.FromSeconds(10));
        var engine = new LoadEngine(new UrlScenario(stub.Url, HttpMethod.Get), client, new EngineOptions
        {
            Model = WorkloadModel.Closed, Profile = LoadProfile.ParseStages("1s:6,1500ms:6,1s:0"), Think = TimeSpan.FromMilliseconds(20),
        });

        var result = await engine.RunAsync(CancellationToken.None);

        var vus = result.Series.Select(s => s.Vus).ToList();
        Assert.Equal(6, vus.Max());
        Assert.True(vus[^1] <= 1, string.Join(",", vus));
        // 6 users at ≈ 26 ms a cycle for ~2.5 s (two half-ramps and the plateau), so ≈ 570 requests.
        Assert.InRange(result.Summary.Requests, 350, 700);
        Assert.Equal(result.Summary.CompletedInWindow / 3.5, result.Summary.Rps, 3);
    }

    [Fact]
    public void Stages_RampLinearly_AndArrivalsFollowTheIntegral()
    {
        var profile = LoadProfile.ParseStages("10s:100,20s:100,10s:0");

        Assert.Equal(TimeSpan.FromSeconds(40), profile.Duration);
        Assert.Equal(50, profile.ValueAt(5), 6);
        Assert.Equal(100, profile.ValueAt(20), 6);
        Assert.Equal(500 + 2000 + 500, profile.CountAt(40), 6);
        Assert.Equal(10, profile.TimeOfArrival(500), 6);
        Assert.Equal(20, profile.TimeOfArrival(1500), 6);
    }

    [Theory]
    [InlineData("p95<300ms,p99<1s,errors<1%", 3)]
    [InlineData("p99.9<=2s,max<5000,rps>10", 3)]
    public void Slo_Parses(string text, int rules) => Assert.Equal(rules, Slo.Parse(text).Rules.Count);

    [Fact]
    public void Slo_RejectsUnknownMetrics() => Assert.Throws<FormatException>(() => Slo.Parse("p95<300ms,latency<2s"));
}
