using HdrHistogram;
using Tally.Load.Cli;
using Tally.Load.Engine;
using Tally.Load.Report;

namespace Tally.Load.Tests;

/// <summary>
/// compare on synthetic result files, recorded through the engine's own Metrics: 30 s at 200 req/s over two
/// endpoints, log-normal latencies (median 20 ms), each second a little slower or faster than the next (±3%),
/// as a real run's seconds are.
/// </summary>
public sealed class CompareTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-load-compare").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static readonly string[] Endpoints = ["GET /accounts/balance", "POST /transfers"];

    /// <param name="slowerA">Multiplies the first endpoint's latencies: 1.4 is a 40% regression of every percentile.</param>
    /// <param name="perSecond">False writes the file as tally-load did before compare: no per_second, only the overall series.</param>
    private async Task<string> WriteRunAsync(string name, int seed, double slowerA = 1, bool perSecond = true, int seconds = 30, double rate = 200)
    {
        var random = new Random(seed);
        var metrics = new Metrics(Endpoints);
        var f = Stopwatch.Frequency;
        var from = 10 * f;
        metrics.SetWindow(from, from + seconds * f);
        var series = new List<Sample>();
        for (var s = 0; s < seconds; s++)
        {
            var second = new LongHistogram(1, 3_600_000_000, 3);
            var drift = 1 + 0.03 * Gaussian(random);
            for (var k = 0; k < rate; k++)
            {
                var endpoint = k % 2;
                var ms = 20 * Math.Exp(0.5 * Gaussian(random)) * drift * (endpoint == 0 ? slowerA : 1);
                var origin = from + (long)((s + k / rate) * f);
                metrics.Record(endpoint, origin, origin + (long)(ms / 1000 * f), true, null);
                second.RecordValue((long)(ms * 1000));
            }
            series.Add(new Sample(s + 1, rate, 0, second.GetValueAtPercentile(50) / 1000.0, second.GetValueAtPercentile(90) / 1000.0,
                second.GetValueAtPercentile(99) / 1000.0, second.GetMaxValue() / 1000.0, rate, 0, 4, 0, 0, 10));
        }
        var report = new RunReport
        {
            Command = "run", Target = "http://127.0.0.1:8080/", Scenario = "mixed", Model = "open", StartedAt = DateTimeOffset.UnixEpoch.AddSeconds(seed),
            Summary = metrics.Summarize(seconds), Series = series, PerSecond = perSecond ? metrics.PerSecond(seconds) : null,
        };
        var path = Path.Combine(_dir, name);
        await report.WriteJsonAsync(path, CancellationToken.None);
        return path;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private async Task<(int Code, string Output, JsonElement Result)> CompareAsync(string basePath, string candidatePath, params string[] options)
    {
        var json = Path.Combine(_dir, $"compare-{Guid.NewGuid():N}.json");
        var (code, output) = await TestConsole.RunAsync(["compare", basePath, candidatePath, "--json", json, .. options]);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        return (code, output, doc.RootElement.Clone());
    }

    private static JsonElement Row(JsonElement result, string endpoint, string figure) =>
        result.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("endpoint").GetString() == endpoint && r.GetProperty("figure").GetString() == figure);

    [Fact]
    public async Task Compare_ARealRegression_IsWorse_AndBreachesFailOn_WithExitCode3()
    {
        var basePath = await WriteRunAsync("base.json", seed: 1);
        var candidatePath = await WriteRunAsync("candidate.json", seed: 2, slowerA: 1.4);
        var html = Path.Combine(_dir, "compare.html");

        var (code, output, result) = await CompareAsync(basePath, candidatePath, "--fail-on", "p95>+10%,rps<-5%", "--html", html);

        Assert.True(code == ExitCodes.SloBreached, output);
        var p95 = Row(result, Endpoints[0], "p95");
        Assert.Equal("worse", p95.GetProperty("verdict").GetString());
        Assert.InRange(p95.GetProperty("change_percent").GetDouble(), 30, 50);
        Assert.True(p95.GetProperty("low_percent").GetDouble() > 10, p95.ToString());
        Assert.Equal("no significant change", Row(result, Endpoints[1], "p95").GetProperty("verdict").GetString());
        Assert.Equal("no significant change", Row(result, "all", "rps").GetProperty("verdict").GetString());
        var rules = result.GetProperty("fail_on").EnumerateArray().ToList();
        Assert.True(rules[0].GetProperty("breached").GetBoolean());
        Assert.Contains(rules[0].GetProperty("breaches").EnumerateArray(), b => b.GetString()!.StartsWith(Endpoints[0] + " p95 +", StringComparison.Ordinal));
        Assert.False(rules[1].GetProperty("breached").GetBoolean());
        Assert.Contains("BREACHED", output, StringComparison.Ordinal);
        var page = await File.ReadAllTextAsync(html);
        Assert.Contains("Candidate", page, StringComparison.Ordinal);
        Assert.Contains(candidatePath, page, StringComparison.Ordinal);
        Assert.Equal(3 * 2, System.Text.RegularExpressions.Regex.Count(page, "<polyline"));
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(3, 4)]
    [InlineData(5, 6)]
    public async Task Compare_TwoRunsOfTheSameSystem_AreNoSignificantChange_AndExitZero(int baseSeed, int candidateSeed)
    {
        var basePath = await WriteRunAsync("base.json", baseSeed);
        var candidatePath = await WriteRunAsync("candidate.json", candidateSeed);

        var (code, output, result) = await CompareAsync(basePath, candidatePath, "--fail-on", "p50>+5%,p95>+10%,p99>+10%,rps<-5%");

        Assert.True(code == ExitCodes.Ok, output);
        var rows = result.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(3 * 5, rows.Count);
        Assert.All(rows, r => Assert.True(r.GetProperty("verdict").GetString() == "no significant change", r.ToString()));
    }

    [Fact]
    public async Task Compare_IsReproducible_TheSameFilesGetTheSameIntervals()
    {
        var basePath = await WriteRunAsync("base.json", 7);
        var candidatePath = await WriteRunAsync("candidate.json", 8, slowerA: 1.05);

        var (_, _, first) = await CompareAsync(basePath, candidatePath);
        var (_, _, second) = await CompareAsync(basePath, candidatePath);

        Assert.Equal(first.GetProperty("rows").ToString(), second.GetProperty("rows").ToString());
    }

    [Fact]
    public async Task Compare_AFileWrittenBeforePerSecond_StillLoads_WithIntervalsFromItsSeries()
    {
        var basePath = await WriteRunAsync("old.json", 1, perSecond: false);
        var candidatePath = await WriteRunAsync("new.json", 2, slowerA: 1.4);
        using (var old = JsonDocument.Parse(await File.ReadAllTextAsync(basePath)))
        {
            Assert.False(old.RootElement.TryGetProperty("per_second", out var ps) && ps.ValueKind != JsonValueKind.Null);
        }

        var (code, output, result) = await CompareAsync(basePath, candidatePath, "--fail-on", "p99>+10%");

        // Overall from the series: the first endpoint's regression moves the overall p99 by far more than the noise.
        Assert.True(code == ExitCodes.SloBreached, output);
        Assert.Equal("worse", Row(result, "all", "p99").GetProperty("verdict").GetString());
        Assert.Equal("no interval", Row(result, "all", "p95").GetProperty("verdict").GetString());
        Assert.Equal("no interval", Row(result, Endpoints[0], "p95").GetProperty("verdict").GetString());
        Assert.Contains("no per-second data in the base file", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_Json_HasPerSecondSlices_ThatAddUpToTheSummary()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(3));
        var json = Path.Combine(_dir, "run.json");
        var (code, output) = await TestConsole.RunAsync("run", "--url", stub.Url.ToString(), "--rate", "100", "--duration", "3s", "--server-metrics", "off", "--json", json, "--quiet");
        Assert.True(code == ExitCodes.Ok, output);

        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var summary = doc.RootElement.GetProperty("summary");
        var endpoint = Assert.Single(doc.RootElement.GetProperty("per_second").GetProperty("endpoints").EnumerateArray());
        var seconds = endpoint.GetProperty("seconds").EnumerateArray().ToList();

        Assert.Equal(3, seconds.Count);
        Assert.Equal(summary.GetProperty("requests").GetInt64(), seconds.Sum(s => s.GetProperty("requests").GetInt64()));
        Assert.Equal(summary.GetProperty("completed_in_window").GetInt64(), seconds.Sum(s => s.GetProperty("completed").GetInt64()));
        var merged = new LongHistogram(1, 3_600_000_000, 3);
        foreach (var s in seconds)
        {
            merged.Add(HistogramText.Decode(s.GetProperty("histogram").GetString()!));
        }
        Assert.Equal(summary.GetProperty("latency").GetProperty("p95").GetDouble(), merged.GetValueAtPercentile(95) / 1000.0);
    }

    [Fact]
    public async Task Compare_AFileThatIsNotAResult_IsABadArgument()
    {
        var basePath = await WriteRunAsync("base.json", 1);
        var notAResult = Path.Combine(_dir, "users.json");
        await File.WriteAllTextAsync(notAResult, "[{\"phone\":\"5550000\"}]");

        var (code, output) = await TestConsole.RunAsync("compare", basePath, notAResult);

        Assert.True(code == ExitCodes.Usage, output);
        Assert.Contains("not a tally-load result", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData]
    [InlineData("only-one.json")]
    [InlineData("missing.json", "missing-too.json")]
    [InlineData("{base}", "{base}", "--fail-on", "p95>>10%")]
    [InlineData("{base}", "{base}", "--fail-on", "latency>+10%")]
    [InlineData("{base}", "{base}", "--fail-on", "p95>-10%")]
    [InlineData("{base}", "{base}", "--fail-on", "rps<-5")]
    [InlineData("{base}", "{base}", "--noise", "some")]
    [InlineData("{base}", "{base}", "--speed", "2")]
    [InlineData("{base}", "{base}", "{base}")]
    public async Task Compare_BadArguments_ExitWithUsage(params string[] args)
    {
        var basePath = await WriteRunAsync("base.json", 1, seconds: 5);

        var (code, output) = await TestConsole.RunAsync(["compare", .. args.Select(a => a.Replace("{base}", basePath, StringComparison.Ordinal))]);

        Assert.True(code == ExitCodes.Usage, output);
    }
}
