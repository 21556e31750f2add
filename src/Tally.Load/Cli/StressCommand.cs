using Spectre.Console;
using Tally.Load.Capacity;
using Tally.Load.Report;
using Tally.Load.Stress;

namespace Tally.Load.Cli;

public static partial class App
{
    private static readonly SloRule DefaultLatencyRule = new("p95<300ms", "p95", "<", 300);

    /// <summary>
    /// stress: the capacity (given, or searched first), then phases at multiples of it (open model:
    /// arrivals per second; closed: users), run back to back in one engine run so that nothing
    /// drains between them; each request counts in the phase in which it was (meant to be) sent.
    /// </summary>
    private static async Task<int> StressAsync(Arguments a, IAnsiConsole console, CancellationToken ct)
    {
        var vusMode = a.Has("vus");
        var vusStart = vusMode && !a.Flag("vus") ? a.Int("vus", 10) : 10;
        double? given = a.Has("capacity") ? a.Double("capacity", 0) : null;
        var think = a.Duration("think", TimeSpan.FromSeconds(1));
        var multipliers = ParsePhases(a.String("phases", "0.5,2,3,5,0.5"));
        var phaseDuration = a.Duration("phase-duration", TimeSpan.FromSeconds(10));
        var expectations = a.String("expect") is { } expectText ? Expectations.Parse(expectText) : [];
        var timeout = a.Duration("timeout", TimeSpan.FromSeconds(10));
        var maxVus = a.Int("max-vus", 256);
        var maxBacklog = a.Int("max-backlog", 100_000);
        var search = SearchSettings.Read(a, vusMode, vusMode ? vusStart : a.Double("start", 50), think, timeout, maxVus);
        var probeText = a.String("probe-think", "100ms");
        TimeSpan? probeThink = probeText == "off" ? null : Durations.Parse(probeText);
        var json = a.String("json");
        var html = a.String("html");
        var quiet = a.Flag("quiet");
        if (given is <= 0)
        {
            throw new ArgumentException("--capacity must be above 0");
        }
        if (phaseDuration < TimeSpan.FromMilliseconds(100))
        {
            throw new ArgumentException("--phase-duration must be at least 100ms");
        }
        if (maxBacklog < 1)
        {
            throw new ArgumentException("--max-backlog must be at least 1");
        }
        var roles = PhaseRoles.Assign(multipliers);
        Expectations.Validate(expectations, multipliers, roles);
        // Closed model: one connection per user at most, however many users the phases reach.
        var connections = vusMode ? int.MaxValue : maxVus;
        await using var setup = await PrepareAsync(a, connections, timeout, ct).ConfigureAwait(false);
        a.EnsureAllUsed();
        search = search.WithFileSlo(a, setup.Slo);
        var latencyRule = search.Slo.Rules.FirstOrDefault(r => r.Metric == "max" || r.Metric.StartsWith('p')) ?? DefaultLatencyRule;
        var errorsRule = search.Slo.Rules.FirstOrDefault(r => r.Metric == "errors");
        await using var sampler = ServerMetricsSampler.StartFor(setup.MetricsUrl);
        var started = DateTimeOffset.UtcNow;
        var model = vusMode ? "closed" : "open";

        CapacityResult? searched = null;
        double capacity;
        if (given is { } g)
        {
            capacity = vusMode ? Math.Round(g) : g;
        }
        else
        {
            var searchStart = sampler?.Now ?? 0;
            searched = await SearchCapacityAsync(setup, sampler, search, console, quiet, ct).ConfigureAwait(false);
            PrintCapacity(console, searched, search);
            if (searched.Interrupted || searched.Knee is null)
            {
                // No phases to run: the search is the report (after Ctrl+C, of the steps it completed).
                var code = searched.Interrupted ? ExitCodes.Aborted : ExitCodes.SloBreached;
                var (samples, summary) = ServerDuring(sampler, searchStart, sampler?.Now ?? 0);
                var failed = new RunReport
                {
                    Command = "stress", Target = setup.Target.ToString(), Scenario = setup.Scenario.Name, Model = model, StartedAt = started,
                    Capacity = searched, Slo = search.Slo.Text, ThresholdsPassed = false, ServerMetrics = samples, Server = summary, ExitCode = code,
                    Aborted = searched.Interrupted, AbortReason = searched.Interrupted ? "interrupted (Ctrl+C) during the capacity search" : null,
                };
                await WriteOutputsAsync(console, failed, json, html, searched.Interrupted ? CancellationToken.None : ct).ConfigureAwait(false);
                return code;
            }
            var knee = searched.Knee;
            capacity = vusMode ? knee.Target : searched.MaxSustainableRps;
        }

        var plan = new List<PhasePlan>();
        for (var i = 0; i < multipliers.Count; i++)
        {
            var target = vusMode ? Math.Max(1, Math.Round(multipliers[i] * capacity)) : multipliers[i] * capacity;
            plan.Add(new PhasePlan(i, roles[i], multipliers[i], target, i * phaseDuration.TotalSeconds, phaseDuration.TotalSeconds));
        }
        var recorder = new StressRecorder(plan, latencyRule, errorsRule);
        if (!quiet)
        {
            console.MarkupLineInterpolated(CultureInfo.InvariantCulture,
                $"stress: capacity {capacity:0.#} {(vusMode ? "users" : "req/s")} ({(searched is null ? "given" : "searched")}); phases {string.Join(" → ", plan.Select(p => $"{p.Multiplier:0.##}× ({p.Target:0.#})"))}, {phaseDuration.TotalSeconds:0.##} s each");
        }
        var runStart = sampler?.Now ?? 0;
        Metrics? measured = null;
        using var probeClient = probeThink is null ? null : Http.CreateClient(1, timeout);
        using var probeStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var probe = probeClient is null ? Task.CompletedTask
            : SingleUserProbe.RunAsync(setup.Scenario, probeClient, probeThink!.Value, recorder, probeStop.Token);
        var result = await WithLiveViewAsync(console, quiet, $"stress {setup.Scenario.Name} · {model}",
            async tick =>
            {
                // With --agents each generator sorts its own requests into the phases; theirs are merged into the recorder.
                (var r, measured) = await RunEngineAsync(setup, new EngineOptions
                {
                    Model = vusMode ? WorkloadModel.Closed : WorkloadModel.Open,
                    Profile = LoadProfile.Steps([.. plan.Select(p => (p.Target, phaseDuration))]),
                    MaxVus = maxVus, Think = vusMode ? think : TimeSpan.Zero, Timeout = timeout, MaxBacklog = maxBacklog,
                    // Requests still in flight at the end get their full timeout, so a slow answer is measured, not cut off.
                    Drain = timeout, Observer = recorder, OnTick = tick,
                }, ct, new StressSetup(plan, latencyRule, errorsRule)).ConfigureAwait(false);
                return r;
            }).ConfigureAwait(false);
        recorder.Stopped();
        await probeStop.CancelAsync().ConfigureAwait(false);
        await probe.ConfigureAwait(false);
        var interrupted = ct.IsCancellationRequested;
        // After Ctrl+C the audit and the reports still run: what was measured is kept.
        var finish = interrupted ? CancellationToken.None : ct;
        var (serverSamples, server) = ServerDuring(sampler, runStart, sampler?.Now ?? 0);

        var capacityRps = vusMode ? searched?.MaxSustainableRps ?? 0 : capacity;
        var source = searched is null ? "given" : "searched";
        var phases = recorder.Build(capacityRps, serverSamples, result.Series);
        if (vusMode && searched is null && phases[0] is { MeasuredSeconds: > 0, Target: > 0 } basePhase)
        {
            // Users at capacity send as often as the base phase's users did: its accepted rate scaled up.
            capacityRps = Math.Round(basePhase.Accepted / basePhase.MeasuredSeconds * capacity / basePhase.Target, 1);
            phases = recorder.Build(capacityRps, serverSamples, result.Series);
        }
        var recovery = phases.FirstOrDefault(p => p.Role == PhaseRoles.Recovery);
        var stress = new StressResult
        {
            Model = model, Capacity = capacity, CapacityUnit = vusMode ? "users" : "req/s", CapacityRps = capacityRps,
            CapacitySource = vusMode && searched is null ? "given; req/s estimated from the base phase" : source,
            Slo = search.Slo.Text, SloLatencyMs = latencyRule.Limit, SloLatencyRule = latencyRule.Expression,
            PhaseDurationSeconds = phaseDuration.TotalSeconds, ThinkSeconds = vusMode ? think.TotalSeconds : 0, Interrupted = interrupted,
            Phases = phases, RecoverySeconds = recovery?.RecoverySeconds, NoHealthyUpstream = phases.Sum(p => p.NoHealthyUpstream),
        };
        stress.Expectations = Expectations.Evaluate(expectations, phases);
        stress.ExpectationsPassed = stress.Expectations.All(v => v.Pass);
        var audit = await AuditIfNeededAsync(setup, console, finish).ConfigureAwait(false);
        var report = new RunReport
        {
            Command = "stress", Target = setup.Target.ToString(), Scenario = setup.Scenario.Name, Model = model, StartedAt = started,
            Summary = result.Summary, PerSecond = measured!.PerSecond(result.Summary.DurationSeconds), Agents = result.Agents, GeneratorCpuPercent = result.GeneratorCpuPercent, GeneratorCpuMaxPercent = result.GeneratorCpuMaxPercent,
            ThresholdsPassed = stress.ExpectationsPassed, Aborted = interrupted, AbortReason = interrupted ? "interrupted (Ctrl+C)" : null,
            Audit = audit, Capacity = searched, Slo = search.Slo.Text, ServerMetrics = serverSamples, Server = server, Stress = stress,
        };
        report.ExitCode = audit is { Passed: false } ? ExitCodes.AuditFailed
            : interrupted ? ExitCodes.Aborted
            : !stress.ExpectationsPassed ? ExitCodes.SloBreached : ExitCodes.Ok;
        PrintStress(console, report, stress);
        await WriteOutputsAsync(console, report, json, html, finish).ConfigureAwait(false);
        return report.ExitCode;
    }

    private static List<double> ParsePhases(string text)
    {
        var list = new List<double>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var m = part.TrimEnd('x', 'X');
            if (!double.TryParse(m, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v) || v <= 0 || v > 1000)
            {
                throw new ArgumentException($"phase '{part}' is not a multiplier of the capacity above 0 (e.g. 0.5, 2, 3)");
            }
            list.Add(v);
        }
        if (list.Count == 0)
        {
            throw new ArgumentException("--phases is empty");
        }
        return list;
    }

    private static string Ms(double? v) => v is { } x && double.IsFinite(x) ? x.ToString("0.#", CultureInfo.InvariantCulture) : "–";

    private static void PrintStress(IAnsiConsole console, RunReport r, StressResult s)
    {
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn("phase");
        foreach (var c in new[] { "×", s.Model == "open" ? "target/s" : "users", "offered/s", "goodput/s", "of cap.", "refused", "refused p50/p99", "accepted p50/p95/p99", "errors", "no upstream", "server WS MB", "CPU % server/gen.", "recovery" })
        {
            table.AddColumn(new TableColumn(c).RightAligned());
        }
        static string N(double v, string format = "0.#") => v.ToString(format, CultureInfo.InvariantCulture);
        foreach (var p in s.Phases)
        {
            table.AddRow(
                $"{p.Index} {p.Role}", N(p.Multiplier, "0.##"), N(p.Target), N(p.OfferedRps), N(p.GoodputRps), N(p.GoodputFraction, "0.00"),
                $"{p.Refused}", p.Refused > 0 ? $"{Ms(p.RefusedLatency.P50)} / {Ms(p.RefusedLatency.P99)}" : "–",
                p.Accepted > 0 ? $"{Ms(p.AcceptedLatency.P50)} / {Ms(p.AcceptedLatency.P95)} / {Ms(p.AcceptedLatency.P99)}" : "–",
                $"{p.Errors} ({N(p.ErrorRatePercent, "0.##")}%)", $"{p.NoHealthyUpstream}",
                p.WorkingSetMbMax is { } ws ? $"{N(ws, "0")}{(p.MemoryRatio is { } mr && p.Index > 0 ? $" ({N(mr, "0.00")}×)" : "")}" : "–",
                $"{(p.ServerCpuPercentMean is { } sc ? N(sc, "0") : "–")} / {(p.GeneratorCpuPercentMean is { } gc ? N(gc, "0") : "–")}",
                p.MeasuredSeconds <= 0 ? "not reached" : p.Role != PhaseRoles.Recovery ? "" : p.RecoverySeconds is { } rec ? $"{N(rec, "0.#")} s" : "[red]not recovered[/]");
        }
        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"capacity {s.Capacity:0.#} {s.CapacityUnit} ({s.CapacitySource}; goodput is judged against {s.CapacityRps:0.#} req/s) · goodput = successes within {s.SloLatencyMs:0.#} ms ({s.SloLatencyRule}) · latencies in ms · phases of {s.PhaseDurationSeconds:0.##} s"));
        foreach (var p in s.Phases)
        {
            var kinds = p.RefusedByKind.OrderByDescending(k => k.Value).Select(k => $"refused {k.Key}: {k.Value}")
                .Concat(p.ErrorsByKind.OrderByDescending(k => k.Value).Select(k => $"error {k.Key}: {k.Value}"))
                .Concat(p.Dropped > 0 ? [$"dropped arrivals: {p.Dropped}"] : []).ToList();
            if (kinds.Count > 0)
            {
                console.WriteLine($"  phase {p.Index} ({p.Multiplier.ToString("0.##", CultureInfo.InvariantCulture)}×): {string.Join(" · ", kinds)}");
            }
            if (p.Probe is { } probe)
            {
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  phase {p.Index} ({p.Multiplier:0.##}×) one request at a time: {probe.Requests} sent · {probe.WithinSlo} succeeded within the SLO · {probe.Refused} refused · {probe.Errors} failed · {probe.Slow} slower than {s.SloLatencyMs:0.#} ms · p50 {probe.P50:0.#} / p99 {probe.P99:0.#} / max {probe.Max:0.#} ms"));
            }
        }
        if (r.Server is { } server)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"server ({server.Url}, {server.Samples} samples): CPU {server.CpuPercentMean:0.#}% (max {server.CpuPercentMax:0.#}%) · thread-pool queue max {server.ThreadPoolQueueMax:0} · working set max {server.WorkingSetMbMax:0.#} MB"));
        }
        foreach (var v in s.Expectations)
        {
            var where = v.Phase is { } i ? $" [phase {i}, {v.Multiplier?.ToString("0.##", CultureInfo.InvariantCulture)}×]" : "";
            var actual = v.Actual is { } x ? x.ToString("0.###", CultureInfo.InvariantCulture) : "–";
            console.MarkupLine($"  expect {Markup.Escape(v.Expression)}{Markup.Escape(where)}: actual {actual}{(v.Note is null ? "" : $" ({Markup.Escape(v.Note)})")} {(v.Pass ? "[green]pass[/]" : "[red]BREACHED[/]")}");
        }
        if (s.Interrupted)
        {
            console.MarkupLine($"[yellow]interrupted[/]: the phases measured so far are reported; exit code {ExitCodes.Aborted}");
        }
        else if (!s.ExpectationsPassed)
        {
            console.MarkupLineInterpolated($"[red]expectations breached[/]: exit code {ExitCodes.SloBreached}");
        }
    }
}
