using Tally.Load.Cli;

namespace Tally.Load.Tests;

public class CliTests
{
    [Fact]
    public async Task Run_WithinThresholds_ExitsZero()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(5));
        var (code, output) = await TestConsole.RunAsync("run", "--url", stub.Url.ToString(), "--vus", "2", "--duration", "1s", "--slo", "p95<2s,errors<1%", "--quiet");
        Assert.True(code == ExitCodes.Ok, output);
    }

    [Fact]
    public async Task Run_BreachingAThreshold_ExitsWithSloBreached()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(20));
        var (code, output) = await TestConsole.RunAsync("run", "--url", stub.Url.ToString(), "--vus", "2", "--duration", "1s", "--slo", "p95<5ms", "--quiet");
        Assert.True(code == ExitCodes.SloBreached, output);
        Assert.Contains("BREACHED", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_AbortOnFail_StopsEarlyWithAborted()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(20));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, output) = await TestConsole.RunAsync("run", "--url", stub.Url.ToString(), "--rate", "100", "--duration", "30s", "--slo", "p95<5ms", "--abort-on-fail", "--quiet");
        Assert.True(code == ExitCodes.Aborted, output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Run_SamplesTheServersMetrics_IntoTheJsonAndTheReport()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(2));
        stub.QueueDepth = 7;
        var dir = Directory.CreateTempSubdirectory("tally-load-metrics").FullName;
        try
        {
            string json = Path.Combine(dir, "r.json"), html = Path.Combine(dir, "r.html");
            var (code, output) = await TestConsole.RunAsync("run", "--url", stub.Url.ToString(), "--rate", "50", "--duration", "3s", "--json", json, "--html", html, "--quiet");
            Assert.True(code == ExitCodes.Ok, output);

            using var doc = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var samples = doc.RootElement.GetProperty("server_metrics").EnumerateArray().ToList();
            Assert.True(samples.Count >= 2, doc.RootElement.GetProperty("server_metrics").ToString());
            Assert.All(samples, s => Assert.Equal(7, s.GetProperty("bus_queue_depth").GetDouble()));
            // The stub's CPU counter grows by 2 × 0.25 s per second over 2 cores: 25%.
            Assert.All(samples, s => Assert.InRange(s.GetProperty("cpu_percent").GetDouble(), 20, 30));
            Assert.Equal(7, doc.RootElement.GetProperty("server").GetProperty("bus_queue_depth_max").GetDouble());
            Assert.Contains("Server (from /metrics)", await File.ReadAllTextAsync(html), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Run_WithoutServerMetrics_StillCompletes()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.Zero);
        var (code, output) = await TestConsole.RunAsync("run", "--url", stub.Url.ToString(), "--rate", "20", "--duration", "1s", "--server-metrics", "off", "--max-backlog", "10", "--quiet");
        Assert.True(code == ExitCodes.Ok, output);
        Assert.DoesNotContain("server (", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_Interrupted_StopsAtOnce_AndStillWritesTheReportOfWhatWasMeasured()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(5));
        var dir = Directory.CreateTempSubdirectory("tally-load-interrupt").FullName;
        try
        {
            string json = Path.Combine(dir, "r.json"), html = Path.Combine(dir, "r.html");
            using var writer = new StringWriter();
            // Program.cs cancels this token at the first Ctrl+C.
            using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            var clock = System.Diagnostics.Stopwatch.StartNew();

            var code = await App.RunAsync(["run", "--url", stub.Url.ToString(), "--rate", "50", "--duration", "60s", "--server-metrics", "off",
                "--json", json, "--html", html, "--quiet"], TestConsole.Create(writer), interrupt.Token);

            Assert.True(code == ExitCodes.Aborted, writer.ToString());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
            using var doc = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var root = doc.RootElement;
            Assert.True(root.GetProperty("aborted").GetBoolean());
            Assert.Equal("interrupted (Ctrl+C)", root.GetProperty("abort_reason").GetString());
            Assert.Equal(ExitCodes.Aborted, root.GetProperty("exit_code").GetInt32());
            var summary = root.GetProperty("summary");
            Assert.InRange(summary.GetProperty("duration_seconds").GetDouble(), 2, 10);
            Assert.True(summary.GetProperty("requests").GetInt64() >= 50, summary.ToString());
            Assert.Contains("interrupted (Ctrl+C)", await File.ReadAllTextAsync(html), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("run", "--url", "http://10.1.2.3/", "--vus", "1")]
    [InlineData("run", "--url", "http://127.0.0.1:1/", "--rate", "5", "--max-backlog", "0")]
    [InlineData("run", "--url", "http://127.0.0.1:1/", "--vus", "1", "--rate", "5")]
    [InlineData("run", "--url", "http://127.0.0.1:1/", "--slo", "p95<fast")]
    [InlineData("launch")]
    public async Task BadArguments_ExitWithUsage(params string[] args)
    {
        var (code, output) = await TestConsole.RunAsync(args);
        Assert.True(code == ExitCodes.Usage, output);
    }
}
