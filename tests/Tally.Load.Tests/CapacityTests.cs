using Tally.Load.Cli;

namespace Tally.Load.Tests;

public sealed class CapacityTests(ITestOutputHelper log) : IAsyncLifetime
{
    // The stub serves at most 8 requests at once, each for exactly 25 ms on its own clock
    // (StubServer books them on 8 slots), so its true limit is 8 / 0.025 s = 320 req/s.
    // Below it, evenly spaced arrivals never queue (latency ≈ 25 ms); above it, the achieved
    // rate stays at 320 while the queue grows, so a step at rate R > 320 / 0.99 ≈ 323 fails the
    // rule "achieved ≥ 99% of target" whatever its latency. That rule, not the latency SLO,
    // pins the knee here: the SLO (p95 < 500 ms) is loose on purpose, so that scheduling
    // noise on a busy 2-core machine (p95 spikes past 100 ms with a CPU hog beside the test)
    // can't fail a step below the limit.
    private const int Limit = 8;
    private static readonly TimeSpan Service = TimeSpan.FromMilliseconds(25);
    private const double TrueLimit = Limit / 0.025;

    private readonly string _dir = Directory.CreateTempSubdirectory("tally-load-capacity").FullName;
    private StubServer _stub = null!;

    public async Task InitializeAsync() => _stub = await StubServer.StartAsync(_ => Service, Limit);

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    private async Task<JsonElement> SearchAsync(string name, string slo, params string[] extra)
    {
        var json = Path.Combine(_dir, $"{name}.json");
        string[] args = ["capacity", "--url", _stub.Url.ToString(), "--warmup", "500ms", "--step", "2s", "--cooldown", "500ms", "--server-metrics", "off",
            "--slo", slo, "--max-vus", "64", "--json", json, .. extra];
        var (code, output) = await TestConsole.RunAsync(args);
        log.WriteLine(output);
        Assert.True(code == ExitCodes.Ok, output);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        return doc.RootElement.GetProperty("capacity").Clone();
    }

    [Fact]
    public async Task Capacity_FindsTheLimitOfAConcurrencyLimitedStub_Reproducibly()
    {
        string[] search = ["--start", "100", "--factor", "2", "--precision", "0.05"];
        var first = (await SearchAsync("first", "p95<500ms,errors<1%", search)).GetProperty("max_sustainable_rps").GetDouble();
        var second = (await SearchAsync("second", "p95<500ms,errors<1%", search)).GetProperty("max_sustainable_rps").GetDouble();

        Assert.InRange(first, 0.9 * TrueLimit, 1.1 * TrueLimit);
        Assert.InRange(second, 0.9 * TrueLimit, 1.1 * TrueLimit);
        Assert.True(Math.Abs(first - second) <= 0.1 * Math.Max(first, second), $"runs disagree: {first} vs {second}");
    }

    [Fact]
    public async Task Capacity_Interrupted_WritesTheStepsCompletedBeforeIt()
    {
        string json = Path.Combine(_dir, "c.json"), html = Path.Combine(_dir, "c.html");
        using var writer = new StringWriter();
        // Priming takes 1 s and each step 2.5 s plus a 0.5 s cooldown: Ctrl+C lands in the second or third step.
        using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(6));

        var code = await App.RunAsync(["capacity", "--url", _stub.Url.ToString(), "--warmup", "500ms", "--step", "2s", "--cooldown", "500ms",
            "--server-metrics", "off", "--start", "100", "--factor", "1.2", "--max-vus", "64", "--json", json, "--html", html, "--quiet"],
            TestConsole.Create(writer), interrupt.Token);

        log.WriteLine(writer.ToString());
        Assert.True(code == ExitCodes.Aborted, writer.ToString());
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var capacity = doc.RootElement.GetProperty("capacity");
        Assert.True(capacity.GetProperty("interrupted").GetBoolean());
        var steps = capacity.GetProperty("steps").EnumerateArray().ToList();
        // The step cut short is not among them: at most two completed in 6 s.
        Assert.InRange(steps.Count, 1, 2);
        var passed = steps.Where(s => s.GetProperty("pass").GetBoolean()).ToList();
        Assert.NotEmpty(passed);
        Assert.Equal(passed.Max(s => s.GetProperty("achieved_rps").GetDouble()), capacity.GetProperty("max_sustainable_rps").GetDouble(), 1);
        Assert.True(File.Exists(html));
    }

    [Fact]
    public async Task CapacityVus_FindsTheUsersThatFitTheSlo()
    {
        // Closed model, no think time: N > 8 users keep the stub busy at 320 req/s, and Little's
        // law gives each request a mean of N / 320 s (less the client's own time between
        // requests). mean < 60 ms therefore holds up to N = 0.060 × 320 = 19.2 users.
        var capacity = await SearchAsync("vus", "mean<60ms,errors<1%", "--vus", "12", "--factor", "2", "--precision", "0.1");
        var users = capacity.GetProperty("knee").GetProperty("target").GetDouble();
        var rps = capacity.GetProperty("max_sustainable_rps").GetDouble();

        Assert.Equal("vus", capacity.GetProperty("mode").GetString());
        Assert.InRange(users, 0.9 * 19.2, 1.1 * 19.2);
        Assert.InRange(rps, 0.9 * TrueLimit, 1.1 * TrueLimit);
    }
}
