using System.Net;

namespace Tally.Load.Report;

/// <summary>One self-contained HTML file: inline CSS and SVG, nothing fetched.</summary>
public static class HtmlReport
{
    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
    private static string N(double v) => double.IsFinite(v) ? v.ToString("0.##", CultureInfo.InvariantCulture) : "–";

    /// <summary>The document's head and the styles every tally-load report shares.</summary>
    internal static string Head(string title) =>
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + E(title) + "</title><style>"
        + "body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}h1{margin:0 0 4px}table{border-collapse:collapse;margin:8px 0 20px}"
        + "td,th{border:1px solid #ddd;padding:4px 10px;text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}"
        + ".pass{color:#2a7d2a;font-weight:bold}.fail{color:#c62828;font-weight:bold}.chart{display:block;margin:12px 0;border:1px solid #ddd}"
        + ".side{display:flex;gap:24px;flex-wrap:wrap}.side>div{flex:1 1 420px}"
        + "</style></head><body>";

    /// <summary>Marks the page once its charts are laid out (the browser tests wait for it).</summary>
    internal const string ChartsRenderedScript = "<script>document.addEventListener('DOMContentLoaded',function(){var n=0;document.querySelectorAll('svg.chart').forEach(function(s){var b=s.getBBox();if(b.width>0&&b.height>0&&s.querySelector('polyline'))n++;});document.title='charts-rendered:'+n;});</script>";

    public static string Render(RunReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var sb = new StringBuilder();
        sb.Append(Head("tally-load report"));
        sb.Append(CultureInfo.InvariantCulture, $"<h1>tally-load: {E(r.Command)} {E(r.Scenario)}</h1><p>target {E(r.Target)} · model {E(r.Model)} · started {r.StartedAt:u} · exit code {r.ExitCode}</p>");
        if (r.Aborted)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<p class=\"fail\">Aborted early: {E(r.AbortReason)}. Only what was measured before is reported.</p>");
        }
        if (r.Stress is { } stress)
        {
            StressHtml.Append(sb, r, stress);
        }
        if (r.Summary is { } s)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<table><tr><th>requests</th><th>rps</th><th>errors</th><th>dropped</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th><th>generator CPU</th></tr>")
              .Append(CultureInfo.InvariantCulture, $"<tr><td>{s.Requests}</td><td>{N(s.Rps)}</td><td>{s.Errors} ({N(s.ErrorRatePercent)}%)</td><td>{s.Dropped}</td><td>{N(s.Latency.P50)} ms</td><td>{N(s.Latency.P90)} ms</td><td>{N(s.Latency.P95)} ms</td><td>{N(s.Latency.P99)} ms</td><td>{N(s.Latency.P999)} ms</td><td>{N(s.Latency.Max)} ms</td><td>{N(r.GeneratorCpuPercent)}% (max {N(r.GeneratorCpuMaxPercent)}%)</td></tr></table>");
            sb.Append("<h2>Endpoints</h2><table><tr><th>endpoint</th><th>requests</th><th>errors</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>");
            foreach (var e in s.Endpoints)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(e.Name)}</td><td>{e.Requests}</td><td>{e.Errors}</td><td>{N(e.Latency.P50)}</td><td>{N(e.Latency.P95)}</td><td>{N(e.Latency.P99)}</td><td>{N(e.Latency.Max)}</td></tr>");
            }
            sb.Append("</table>");
            if (s.ErrorsByKind.Count > 0)
            {
                sb.Append("<h2>Errors</h2><table><tr><th>status / error_code</th><th>count</th></tr>");
                foreach (var (kind, count) in s.ErrorsByKind.OrderByDescending(k => k.Value))
                {
                    sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(kind)}</td><td>{count}</td></tr>");
                }
                sb.Append("</table>");
            }
        }
        if (r.Thresholds.Count > 0)
        {
            sb.Append("<h2>Thresholds</h2><table><tr><th>threshold</th><th>actual</th><th>result</th></tr>");
            foreach (var t in r.Thresholds)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(t.Expression)}</td><td>{N(t.Actual)}</td><td class=\"{(t.Pass ? "pass" : "fail")}\">{(t.Pass ? "pass" : "FAIL")}</td></tr>");
            }
            sb.Append("</table>");
        }
        if (r.Server is { } server)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<h2>Server</h2><p>From {E(server.Url)}, read every second ({server.Samples} samples): CPU mean {N(server.CpuPercentMean ?? double.NaN)}% (max {N(server.CpuPercentMax ?? double.NaN)}%), bus queue depth max {N(server.BusQueueDepthMax ?? double.NaN)}, thread-pool queue max {N(server.ThreadPoolQueueMax ?? double.NaN)}, working set max {N(server.WorkingSetMbMax ?? double.NaN)} MB.</p>");
        }
        if (r.Audit is { } a)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<p>Audit: <span class=\"{(a.Passed ? "pass" : "fail")}\">{(a.Passed ? "ok, ledger sums to 0" : "FAILED")}</span> (ledger_sum {a.LedgerSum})</p>");
        }
        if (r.Capacity is { } c)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<h2>Capacity</h2><p>SLO: <b>{E(r.Slo)}</b>. Highest sustainable load: <b>{N(c.MaxSustainableRps)} req/s</b>{(c.Mode == "vus" && c.Knee is { } k ? $" at <b>{N(k.Target)} users</b>" : "")}; concurrency (Little's law) {N(c.Concurrency)}; equivalent users at {N(c.ThinkTimeSeconds)} s think time: <b>{N(c.EquivalentUsers)}</b>.</p>");
            var unit = c.Mode == "vus" ? "users" : "target req/s";
            var ordered = c.Steps.OrderBy(x => x.Target).ToList();
            sb.Append(Svg.LineChart("Load vs latency (knee marked)", unit, "latency (ms)",
            [
                new Series("p50", "#1f77b4", [.. ordered.Select(x => (x.Target, x.P50))], true),
                new Series("p95", "#ff7f0e", [.. ordered.Select(x => (x.Target, x.P95))], true),
                new Series("p99", "#9467bd", [.. ordered.Select(x => (x.Target, x.P99))], true),
            ], marker: c.Knee is { } knee ? (knee.Target, $"knee {N(knee.Target)}") : null));
            sb.Append(Svg.LineChart("Load vs achieved throughput", unit, "achieved req/s",
            [
                new Series("achieved", "#2ca02c", [.. ordered.Select(x => (x.Target, x.AchievedRps))], true),
            ], marker: c.Knee is { } knee2 ? (knee2.Target, "knee") : null));
            sb.Append("<table><tr><th>step</th><th>target</th><th>achieved rps</th><th>p50</th><th>p95</th><th>p99</th><th>errors %</th><th>dropped</th><th>server CPU %</th><th>bus queue max</th><th>result</th></tr>");
            foreach (var x in c.Steps)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{x.Index}</td><td>{N(x.Target)}</td><td>{N(x.AchievedRps)}</td><td>{N(x.P50)}</td><td>{N(x.P95)}</td><td>{N(x.P99)}</td><td>{N(x.ErrorRatePercent)}</td><td>{x.Dropped}</td><td>{N(x.ServerCpuPercent ?? double.NaN)}</td><td>{N(x.BusQueueDepthMax ?? double.NaN)}</td><td class=\"{(x.Pass ? "pass" : "fail")}\">{(x.Pass ? "pass" : "fail: " + E(x.Reason))}</td></tr>");
            }
            sb.Append("</table>");
        }
        if (r.Series.Count > 0)
        {
            var t = r.Series;
            sb.Append(Svg.LineChart("Latency percentiles over time", "seconds", "latency (ms)",
            [
                new Series("p50", "#1f77b4", [.. t.Select(x => (x.T, x.P50))]),
                new Series("p90", "#2ca02c", [.. t.Select(x => (x.T, x.P90))]),
                new Series("p99", "#ff7f0e", [.. t.Select(x => (x.T, x.P99))]),
                new Series("max", "#d62728", [.. t.Select(x => (x.T, x.Max))]),
            ]));
            sb.Append(Svg.LineChart("Requests and errors per second", "seconds", "per second",
            [
                new Series("rps", "#1f77b4", [.. t.Select(x => (x.T, x.Rps))]),
                new Series("errors/s", "#d62728", [.. t.Select(x => (x.T, x.ErrorsPerSecond))]),
                new Series(r.Model == "open" ? "target rate" : "users", "#999999", [.. t.Select(x => (x.T, r.Model == "open" ? x.Target : x.Vus))]),
            ]));
        }
        if (r.ServerMetrics.Count > 0)
        {
            var m = r.ServerMetrics;
            static double V(double? v) => v ?? double.NaN;
            sb.Append(Svg.LineChart("Server (from /metrics): CPU and queues", "seconds", "CPU % · queue length",
            [
                new Series("server CPU %", "#1f77b4", [.. m.Select(x => (x.T, V(x.CpuPercent)))]),
                new Series("bus queue depth", "#d62728", [.. m.Select(x => (x.T, V(x.BusQueueDepth)))]),
                new Series("thread-pool queue", "#ff7f0e", [.. m.Select(x => (x.T, V(x.ThreadPoolQueue)))]),
            ]));
        }
        if (r.Summary is { Latency.Distribution.Count: > 0 } sum)
        {
            // Percentile spectrum on a log scale of 1/(1-p), as HdrHistogram plots it.
            static double X(double p) => Math.Log10(1 / Math.Max(1e-6, 1 - p / 100));
            sb.Append(Svg.LineChart("Latency distribution (percentile spectrum)", "percentile", "latency (ms)",
            [
                new Series("latency", "#9467bd", [.. sum.Latency.Distribution.Where(d => d.Percentile < 100).Select(d => (X(d.Percentile), d.Ms))], true),
            ], x => (100 - 100 / Math.Pow(10, x)).ToString("0.###", CultureInfo.InvariantCulture) + "%", [0, 1, 2, 3, 4, 5]));
        }
        sb.Append(ChartsRenderedScript);
        sb.Append("</body></html>");
        return sb.ToString();
    }
}
