using Tally.Load.Cli;

namespace Tally.Load.Tests.EndToEnd;

/// <summary>Acceptance 2: seed, run, capacity and stress against the real embedded Tally, then the reports in Chromium.</summary>
public sealed class RealTallyTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-load-e2e").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private async Task<string> ToolAsync(int expected, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        var (code, output) = await TestConsole.RunAsync(args);
        log.WriteLine($"$ tally-load {string.Join(' ', args)}   ({clock.Elapsed.TotalSeconds:0.0} s, exit {code})\n{output}");
        Assert.True(code == expected, $"tally-load {args[0]} exited {code}, expected {expected}:\n{output}");
        return output;
    }

    [Fact]
    public async Task SeedRunCapacityStress_AgainstRealTally_AuditPasses_AndTheReportsRender()
    {
        var users = Path.Combine(_dir, "users.json");
        string runJson = Path.Combine(_dir, "run.json"), runHtml = Path.Combine(_dir, "run.html");
        string capJson = Path.Combine(_dir, "capacity.json"), capHtml = Path.Combine(_dir, "capacity.html");
        string stressJson = Path.Combine(_dir, "stress.json"), stressHtml = Path.Combine(_dir, "stress.html");
        await using (var tally = await TallyProcess.StartAsync(Directory.CreateDirectory(Path.Combine(_dir, "data")).FullName))
        {
            var target = tally.BaseUrl.ToString();
            string[] common = ["--target", target, "--users-file", users, "--admin-secret", TallyProcess.AdminSecret, "--quiet"];

            var seeded = await ToolAsync(ExitCodes.Ok, "seed", "--target", target, "--users", "500", "--workers", "20", "--out", users, "--quiet");
            Assert.Contains("seeded 500 new", seeded, StringComparison.Ordinal);
            using (var file = JsonDocument.Parse(await File.ReadAllTextAsync(users)))
            {
                Assert.Equal(500, file.RootElement.GetArrayLength());
                Assert.Equal(500, file.RootElement.EnumerateArray().Select(u => u.GetProperty("account_number").GetString()).Distinct().Count());
            }

            await ToolAsync(ExitCodes.Ok, ["run", "--scenario", "mixed", "--rate", "200", "--duration", "5s",
                "--slo", "p95<300ms,errors<1%", "--json", runJson, "--html", runHtml, .. common]);
            using (var run = JsonDocument.Parse(await File.ReadAllTextAsync(runJson)))
            {
                var summary = run.RootElement.GetProperty("summary");
                Assert.True(summary.GetProperty("requests").GetInt64() >= 900, summary.ToString());
                Assert.Equal(0, summary.GetProperty("errors").GetInt64());
                Assert.True(run.RootElement.GetProperty("audit").GetProperty("ok").GetBoolean());
                // The four endpoints of the mix were all exercised.
                Assert.Equal(4, summary.GetProperty("endpoints").GetArrayLength());
            }

            await ToolAsync(ExitCodes.Ok, ["capacity", "--scenario", "mixed", "--slo", "p95<300ms,errors<1%",
                "--start", "200", "--factor", "2", "--warmup", "1s", "--step", "2s", "--cooldown", "500ms",
                "--precision", "0.25", "--max-steps", "7", "--json", capJson, "--html", capHtml, .. common]);
            using (var cap = JsonDocument.Parse(await File.ReadAllTextAsync(capJson)))
            {
                var capacity = cap.RootElement.GetProperty("capacity");
                log.WriteLine($"capacity of the real Tally (mixed): {capacity.GetProperty("max_sustainable_rps")} req/s");
                Assert.True(capacity.GetProperty("max_sustainable_rps").GetDouble() >= 200, capacity.ToString());
                Assert.True(cap.RootElement.GetProperty("audit").GetProperty("ok").GetBoolean());
            }

            // Past the capacity: the phases run, every request is classified, and the ledger still sums to 0.
            await ToolAsync(ExitCodes.Ok, ["stress", "--scenario", "mixed", "--capacity", "200", "--phases", "0.5,2,0.5", "--phase-duration", "2s",
                "--expect", "no-healthy-upstream<=0,memory<=3", "--json", stressJson, "--html", stressHtml, .. common]);
            using (var stress = JsonDocument.Parse(await File.ReadAllTextAsync(stressJson)))
            {
                var phases = stress.RootElement.GetProperty("stress").GetProperty("phases").EnumerateArray().ToList();
                Assert.Equal(3, phases.Count);
                Assert.All(phases, p => Assert.Equal(p.GetProperty("sent").GetInt64(),
                    p.GetProperty("accepted").GetInt64() + p.GetProperty("refused").GetInt64() + p.GetProperty("errors").GetInt64()));
                Assert.True(phases[1].GetProperty("sent").GetInt64() > 3 * phases[0].GetProperty("sent").GetInt64(), phases[1].ToString());
                // The real server's working set, from its /metrics.
                Assert.True(phases[0].GetProperty("working_set_mb_max").GetDouble() > 10, phases[0].ToString());
                Assert.True(stress.RootElement.GetProperty("audit").GetProperty("ok").GetBoolean());
            }

            var audit = await ToolAsync(ExitCodes.Ok, "audit", "--target", target, "--admin-secret", TallyProcess.AdminSecret);
            Assert.Contains("audit: ok", audit, StringComparison.Ordinal);
        }

        foreach (var (html, charts) in new[] { (runHtml, 3), (capHtml, 2), (stressHtml, 4) })
        {
            var page = await Chromium.OpenAsync(html, _dir);
            Assert.True(page.ConsoleLines.Count == 0, $"{html} logged to the console:\n{string.Join('\n', page.ConsoleLines)}");
            // The report's own script counts the SVG charts that have a laid-out box and a line.
            var rendered = System.Text.RegularExpressions.Regex.Match(page.Dom, @"<title>charts-rendered:(\d+)</title>");
            Assert.True(rendered.Success, $"the report's script did not run: {page.Dom[..Math.Min(400, page.Dom.Length)]}");
            Assert.True(int.Parse(rendered.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= charts, $"{html}: {rendered.Value}");
            Assert.True(page.Screenshot.DistinctColours > 16, $"{html}: the screenshot has {page.Screenshot.DistinctColours} colours");
            Assert.True(page.Screenshot.ForegroundShare > 0.02, $"{html}: the screenshot is {100 * (1 - page.Screenshot.ForegroundShare):0.#}% one colour");
        }
    }

    [Fact]
    public async Task BankingDemoFile_AgainstRealTally_PassesItsChecksAndSlo_AndTheLedgerStillSumsToZero()
    {
        var users = Path.Combine(_dir, "users.json");
        var json = Path.Combine(_dir, "demo.json");
        await using var tally = await TallyProcess.StartAsync(Directory.CreateDirectory(Path.Combine(_dir, "data")).FullName);
        var target = tally.BaseUrl.ToString();
        await ToolAsync(ExitCodes.Ok, "seed", "--target", target, "--users", "60", "--workers", "10", "--out", users, "--quiet");

        // A first run warms both processes up (JIT, pools, SQLite), judged only on its checks.
        await ToolAsync(ExitCodes.Ok, "run", "--scenario", "banking-demo", "--target", target, "--users-file", users,
            "--rate", "40", "--max-vus", "16", "--duration", "3s", "--slo", "errors<1%", "--quiet");
        // Open model (the file's think times apply to --vus), judged by the file's own SLO. Each arrival is the
        // next step of one worker's flow: 16 workers at 80 arrivals/s take each through a flow in under a second.
        await ToolAsync(ExitCodes.Ok, "run", "--scenario", "banking-demo", "--target", target, "--users-file", users,
            "--rate", "80", "--max-vus", "16", "--duration", "5s", "--json", json, "--quiet");
        using (var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json)))
        {
            var summary = doc.RootElement.GetProperty("summary");
            Assert.True(summary.GetProperty("requests").GetInt64() >= 350, summary.ToString());
            Assert.True(summary.GetProperty("errors").GetInt64() == 0, summary.GetProperty("errors_by_kind").ToString());
            Assert.Equal(["p95<300ms", "p99<1s", "errors<1%"], doc.RootElement.GetProperty("thresholds").EnumerateArray().Select(t => t.GetProperty("expression").GetString()));
            var names = summary.GetProperty("endpoints").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToHashSet();
            foreach (var expected in new[] { "GET /api/account/me", "GET /api/account/balance", "GET /api/account/lookup", "POST /api/transfer/transfer",
                "GET /api/notifications/notifications", "POST /api/transfer/transfer (hold)", "POST /api/transfer/confirm", "POST /api/auth/login" })
            {
                Assert.Contains(expected, names);
            }
        }

        // The closed model honours the steps' think times: 4 users for 3 s send far fewer than they could.
        await ToolAsync(ExitCodes.Ok, "run", "--scenario", "banking-demo", "--target", target, "--users-file", users,
            "--vus", "4", "--duration", "3s", "--json", json, "--quiet");
        using (var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json)))
        {
            var requests = doc.RootElement.GetProperty("summary").GetProperty("requests").GetInt64();
            Assert.InRange(requests, 4, 30);
        }

        // ws stays a scenario in code, next to the files: it still logs in, connects, and ends with the audit.
        var ws = await ToolAsync(ExitCodes.Ok, "run", "--scenario", "ws", "--target", target, "--users-file", users, "--ws-clients", "10",
            "--rate", "20", "--duration", "2s", "--admin-secret", TallyProcess.AdminSecret, "--slo", "errors<1%", "--quiet");
        Assert.Contains("WS notification delivery", ws, StringComparison.Ordinal);

        var audit = await ToolAsync(ExitCodes.Ok, "audit", "--target", target, "--admin-secret", TallyProcess.AdminSecret);
        Assert.Contains("audit: ok", audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chromium_Check_CatchesConsoleErrors_AndAFlatPage()
    {
        var bad = Path.Combine(_dir, "bad.html");
        await File.WriteAllTextAsync(bad, "<!doctype html><html><body style=\"background:#fff\"><script>console.error('x'); missing();</script></body></html>");
        var page = await Chromium.OpenAsync(bad, _dir);
        // Both Chromium runs (screenshot and DOM) see the console.error and the uncaught ReferenceError.
        Assert.Contains(page.ConsoleLines, l => l.Contains("\"x\"", StringComparison.Ordinal));
        Assert.Contains(page.ConsoleLines, l => l.Contains("Uncaught ReferenceError", StringComparison.Ordinal));
        Assert.Equal(1, page.Screenshot.DistinctColours);
    }
}
