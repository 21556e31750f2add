using System.Net;
using HdrHistogram;
using Tally.Load.Compare;

namespace Tally.Load.Report;

/// <summary>The compare report: both runs side by side, the figures with their intervals and verdicts, and both runs on each chart.</summary>
public static class CompareHtml
{
    private const string BaseColor = "#1f77b4", CandidateColor = "#ff7f0e";

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
    private static string N(double v, string format = "0.##") => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "–";

    public static string Render(ComparisonResult r, ResultFile b, ResultFile c)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(c);
        var sb = new StringBuilder(HtmlReport.Head("tally-load compare"));
        sb.Append(CultureInfo.InvariantCulture, $"<h1>tally-load: compare</h1><p>exit code {r.ExitCode} · intervals at {N(r.Confidence * 100)}% for all {r.Rows.Count} figures together (each at {N(r.FigureConfidence * 100)}%) from a bootstrap over one-second slices ({r.Resamples} resamples, seed {r.Seed}) · changes within ±{N(r.NoisePercent)}% count as noise</p>");
        sb.Append("<div class=\"side\">");
        Run(sb, "Base", r.BaseFile, b);
        Run(sb, "Candidate", r.CandidateFile, c);
        sb.Append("</div>");
        if (r.FailOn.Count > 0)
        {
            sb.Append("<h2>--fail-on</h2><table><tr><th>rule</th><th>result</th><th>breached by</th></tr>");
            foreach (var rule in r.FailOn)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(rule.Rule)}</td><td class=\"{(rule.Breached ? "fail" : "pass")}\">{(rule.Breached ? "BREACHED" : "pass")}</td><td>{E(string.Join(", ", rule.Breaches))}</td></tr>");
            }
            sb.Append("</table>");
        }
        sb.Append("<h2>Figures</h2><table><tr><th>endpoint</th><th>figure</th><th>base</th><th>candidate</th><th>change</th><th>interval</th><th>verdict</th></tr>");
        foreach (var row in r.Rows)
        {
            var css = row.Verdict == Verdict.Better ? " class=\"pass\"" : row.Verdict == Verdict.Worse ? " class=\"fail\"" : "";
            var verdict = row.Verdict == Verdict.NoInterval ? $"no interval ({row.Note})" : row.Verdict.Label();
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(row.Endpoint)}</td><td>{E(row.Figure)}</td><td>{E(Cli.App.Figure(row.Figure, row.Base))}</td><td>{E(Cli.App.Figure(row.Figure, row.Candidate))}</td>")
              .Append(CultureInfo.InvariantCulture, $"<td>{E(Cli.App.Change(row.ChangePercent))}</td><td>{(row.LowPercent is { } low ? E($"{Cli.App.Change(low)} … {Cli.App.Change(row.HighPercent)}") : "–")}</td><td{css}>{E(verdict)}</td></tr>");
        }
        sb.Append("</table>");
        foreach (var (title, list) in new[] { ("Only in base", r.OnlyInBase), ("Only in candidate", r.OnlyInCandidate) }.Where(x => x.Item2.Count > 0))
        {
            sb.Append(CultureInfo.InvariantCulture, $"<p>{title}: {E(string.Join(", ", list))}</p>");
        }
        var (bRps, bLatency, latencyName) = PerSecondOverall(b);
        var (cRps, cLatency, cLatencyName) = PerSecondOverall(c);
        sb.Append(Svg.LineChart("Throughput per second (all endpoints)", "seconds into the measuring window", "requests per second",
        [
            new Series("base", BaseColor, bRps),
            new Series("candidate", CandidateColor, cRps),
        ]));
        sb.Append(Svg.LineChart($"Latency per second (all endpoints): base {latencyName}, candidate {cLatencyName}", "seconds into the measuring window", "latency (ms)",
        [
            new Series($"base {latencyName}", BaseColor, bLatency),
            new Series($"candidate {cLatencyName}", CandidateColor, cLatency),
        ]));
        // Percentile spectrum on a log scale of 1/(1-p), as the run report draws it.
        static double X(double p) => Math.Log10(1 / Math.Max(1e-6, 1 - p / 100));
        static List<(double, double)> Spectrum(ResultFile f) => [.. f.Summary!.Latency.Distribution.Where(d => d.Percentile < 100).Select(d => (X(d.Percentile), d.Ms))];
        sb.Append(Svg.LineChart("Latency distribution (percentile spectrum, all endpoints)", "percentile", "latency (ms)",
        [
            new Series("base", BaseColor, Spectrum(b), true),
            new Series("candidate", CandidateColor, Spectrum(c), true),
        ], x => (100 - 100 / Math.Pow(10, x)).ToString("0.###", CultureInfo.InvariantCulture) + "%", [0, 1, 2, 3, 4, 5]));
        sb.Append(HtmlReport.ChartsRenderedScript).Append("</body></html>");
        return sb.ToString();
    }

    private static void Run(StringBuilder sb, string title, string path, ResultFile f)
    {
        var s = f.Summary!;
        sb.Append(CultureInfo.InvariantCulture, $"<div><h2>{title}</h2><table><tr><th>file</th><td>{E(path)}</td></tr><tr><th>command</th><td>{E(f.Command)} {E(f.Scenario)} · {E(f.Model)}</td></tr>")
          .Append(CultureInfo.InvariantCulture, $"<tr><th>target</th><td>{E(f.Target)}</td></tr><tr><th>started</th><td>{f.StartedAt:u}</td></tr><tr><th>measured</th><td>{N(s.DurationSeconds, "0.#")} s</td></tr>")
          .Append(CultureInfo.InvariantCulture, $"<tr><th>requests</th><td>{s.Requests} ({s.Errors} errors)</td></tr><tr><th>rps</th><td>{N(s.CompletedInWindow / s.DurationSeconds, "0.#")}</td></tr>")
          .Append(CultureInfo.InvariantCulture, $"<tr><th>p50 / p95 / p99</th><td>{N(s.Latency.P50)} / {N(s.Latency.P95)} / {N(s.Latency.P99)} ms</td></tr>")
          .Append(CultureInfo.InvariantCulture, $"<tr><th>per-second data</th><td>{(f.PerSecond is not null ? "per endpoint (per_second)" : f.Series.Count > 0 ? "overall only (series)" : "none")}</td></tr></table></div>");
    }

    /// <summary>Each second's throughput and latency, all endpoints together: p95 from per_second, or p99 from an older file's series.</summary>
    private static (List<(double, double)> Rps, List<(double, double)> Latency, string LatencyName) PerSecondOverall(ResultFile f)
    {
        if (f.PerSecond is { Endpoints.Count: > 0 } ps)
        {
            var rps = new List<(double, double)>();
            var latency = new List<(double, double)>();
            var count = ps.Endpoints.Max(e => e.Seconds.Count);
            for (var i = 0; i < count; i++)
            {
                var slices = ps.Endpoints.Where(e => i < e.Seconds.Count).Select(e => e.Seconds[i]).ToList();
                var merged = new LongHistogram(1, 3_600_000_000, 3);
                foreach (var slice in slices)
                {
                    merged.Add(HistogramText.Decode(slice.Histogram));
                }
                var middle = slices[0].T + slices[0].Length / 2;
                rps.Add((middle, slices.Sum(x => x.Completed) / Math.Max(1e-3, slices[0].Length)));
                if (merged.TotalCount > 0)
                {
                    latency.Add((middle, merged.GetValueAtPercentile(95) / 1000.0));
                }
            }
            return (rps, latency, "p95");
        }
        return ([.. f.Series.Select(x => (x.T, x.Rps))], [.. f.Series.Select(x => (x.T, x.P99))], "p99");
    }
}
