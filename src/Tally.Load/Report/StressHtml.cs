using System.Net;
using Tally.Load.Stress;

namespace Tally.Load.Report;

/// <summary>The stress section of the HTML report: the phases, the expectations, and charts over time with phase boundaries.</summary>
public static class StressHtml
{
    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
    private static string N(double? v, string format = "0.##") => v is { } x && double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "–";

    public static void Append(StringBuilder sb, RunReport r, StressResult s)
    {
        ArgumentNullException.ThrowIfNull(sb);
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(s);
        sb.Append(CultureInfo.InvariantCulture, $"<h2>Stress</h2><p>Capacity <b>{N(s.Capacity, "0.#")} {E(s.CapacityUnit)}</b> ({E(s.CapacitySource)}); goodput is judged against <b>{N(s.CapacityRps, "0.#")} req/s</b>. ")
          .Append(CultureInfo.InvariantCulture, $"Goodput = successful answers within {N(s.SloLatencyMs)} ms (from the SLO's <code>{E(s.SloLatencyRule)}</code>), per second. Refused = 503 or 429 with Retry-After. ")
          .Append(CultureInfo.InvariantCulture, $"Model {E(s.Model)}{(s.Model == "closed" ? $", {N(s.ThinkSeconds)} s think time" : "")}; phases of {N(s.PhaseDurationSeconds)} s; every request counts in the phase in which it was (meant to be) sent.")
          .Append(s.Interrupted ? " <span class=\"fail\">Interrupted: only the time measured is reported.</span>" : "").Append("</p>");
        sb.Append("<table><tr><th>phase</th><th>×</th><th>target</th><th>offered/s</th><th>goodput/s</th><th>of capacity</th><th>refused</th><th>refused p50</th><th>refused p99</th>")
          .Append("<th>accepted p50</th><th>accepted p95</th><th>accepted p99</th><th>errors</th><th>NO_HEALTHY_UPSTREAM</th><th>dropped</th><th>server WS max MB</th><th>× base</th><th>recovery s</th></tr>");
        foreach (var p in s.Phases)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{p.Index} {E(p.Role)}</td><td>{N(p.Multiplier)}</td><td>{N(p.Target, "0.#")}</td><td>{N(p.OfferedRps, "0.#")}</td><td>{N(p.GoodputRps, "0.#")}</td><td>{N(p.GoodputFraction, "0.00")}</td>")
              .Append(CultureInfo.InvariantCulture, $"<td>{p.Refused}</td><td>{(p.Refused > 0 ? N(p.RefusedLatency.P50) : "–")}</td><td>{(p.Refused > 0 ? N(p.RefusedLatency.P99) : "–")}</td>")
              .Append(CultureInfo.InvariantCulture, $"<td>{(p.Accepted > 0 ? N(p.AcceptedLatency.P50) : "–")}</td><td>{(p.Accepted > 0 ? N(p.AcceptedLatency.P95) : "–")}</td><td>{(p.Accepted > 0 ? N(p.AcceptedLatency.P99) : "–")}</td>")
              .Append(CultureInfo.InvariantCulture, $"<td>{p.Errors} ({N(p.ErrorRatePercent)}%)</td><td>{p.NoHealthyUpstream}</td><td>{p.Dropped}</td><td>{N(p.WorkingSetMbMax, "0")}</td><td>{N(p.MemoryRatio)}</td>")
              .Append(CultureInfo.InvariantCulture, $"<td>{(p.MeasuredSeconds <= 0 ? "not reached" : p.Role != PhaseRoles.Recovery ? "" : p.RecoverySeconds is { } rec ? N(rec) : "<span class=\"fail\">not recovered</span>")}</td></tr>");
        }
        sb.Append("</table>");
        var kinds = s.Phases.SelectMany(p => p.RefusedByKind.Select(k => (p, Kind: "refused " + k.Key, k.Value))
            .Concat(p.ErrorsByKind.Select(k => (p, Kind: "error " + k.Key, k.Value)))).ToList();
        if (kinds.Count > 0)
        {
            sb.Append("<h3>Refusals and errors by kind</h3><table><tr><th>phase</th><th>kind (status error_code)</th><th>count</th></tr>");
            foreach (var (p, kind, count) in kinds)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{p.Index} ({N(p.Multiplier)}×)</td><td>{E(kind)}</td><td>{count}</td></tr>");
            }
            sb.Append("</table>");
        }
        if (s.Expectations.Count > 0)
        {
            sb.Append("<h3>Expectations</h3><table><tr><th>expectation</th><th>phase</th><th>actual</th><th>result</th></tr>");
            foreach (var v in s.Expectations)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(v.Expression)}</td><td>{(v.Phase is { } i ? $"{i} ({N(v.Multiplier)}×)" : "all")}</td><td>{N(v.Actual, "0.###")}{(v.Note is null ? "" : $" ({E(v.Note)})")}</td><td class=\"{(v.Pass ? "pass" : "fail")}\">{(v.Pass ? "pass" : "FAIL")}</td></tr>");
            }
            sb.Append("</table>");
        }
        var boundaries = s.Phases.Select(p => (p.StartSeconds, $"{N(p.Multiplier)}×")).ToList();
        // Each second is plotted at its middle, inside its phase.
        var seconds = s.Phases.SelectMany(p => p.Seconds).Select(x => (Mid: x.T + x.Seconds / 2, x)).OrderBy(x => x.Mid).ToList();
        static double V(double? v) => v ?? double.NaN;
        sb.Append(Svg.LineChart("Offered, goodput and refused per second (phase boundaries dashed)", "seconds", "requests per second",
        [
            new Series("offered", "#999999", [.. seconds.Select(x => (x.Mid, x.x.OfferedRps))]),
            new Series("goodput", "#2ca02c", [.. seconds.Select(x => (x.Mid, x.x.GoodputRps))]),
            new Series("refused", "#ff7f0e", [.. seconds.Select(x => (x.Mid, x.x.RefusedRps))]),
            new Series("errors", "#d62728", [.. seconds.Select(x => (x.Mid, x.x.ErrorsRps))]),
            new Series("capacity", "#1f77b4", [(0, s.CapacityRps), (s.Phases.Count * s.PhaseDurationSeconds, s.CapacityRps)]),
        ], boundaries: boundaries));
        sb.Append(Svg.LineChart("Latency per second: accepted p50/p95/p99 and refused p99 (ms)", "seconds", "latency (ms)",
        [
            new Series("accepted p50", "#1f77b4", [.. seconds.Select(x => (x.Mid, V(x.x.AcceptedP50)))]),
            new Series("accepted p95", "#2ca02c", [.. seconds.Select(x => (x.Mid, V(x.x.AcceptedP95)))]),
            new Series("accepted p99", "#9467bd", [.. seconds.Select(x => (x.Mid, V(x.x.AcceptedP99)))]),
            new Series("refused p99", "#ff7f0e", [.. seconds.Select(x => (x.Mid, V(x.x.RefusedP99)))]),
            new Series("SLO", "#d62728", [(0, s.SloLatencyMs), (s.Phases.Count * s.PhaseDurationSeconds, s.SloLatencyMs)]),
        ], boundaries: boundaries));
        if (r.ServerMetrics.Any(x => x.WorkingSetMb is not null))
        {
            sb.Append(Svg.LineChart("Server working set (MB, from /metrics)", "seconds", "MB",
            [
                new Series("working set", "#8c564b", [.. r.ServerMetrics.Select(x => (x.T, V(x.WorkingSetMb)))]),
            ], boundaries: boundaries));
        }
    }
}
