using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Tally.Load.Compare;

/// <summary>What a figure's change means for the candidate; the JSON, the console and the HTML write its <see cref="VerdictText.Label"/>.</summary>
[JsonConverter(typeof(VerdictText.Converter))]
public enum Verdict
{
    Better,
    Worse,
    NoSignificantChange,
    NoInterval,
}

public static class VerdictText
{
    public static string Label(this Verdict verdict) => verdict switch
    {
        Verdict.Better => "better",
        Verdict.Worse => "worse",
        Verdict.NoSignificantChange => "no significant change",
        Verdict.NoInterval => "no interval",
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, null),
    };

    internal sealed class Converter : JsonConverter<Verdict>
    {
        public override Verdict Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var label = reader.GetString();
            return Enum.GetValues<Verdict>().Single(v => v.Label() == label);
        }

        public override void Write(Utf8JsonWriter writer, Verdict value, JsonSerializerOptions options) => writer.WriteStringValue(value.Label());
    }
}

/// <summary>One figure of one endpoint (or of all, <see cref="Comparison.Overall"/>) in both runs.</summary>
/// <param name="ChangePercent">(candidate / base − 1) × 100.</param>
/// <param name="LowPercent">The interval of the change: the bootstrap's lower quantile.</param>
/// <param name="Direction">+1 a significant increase, −1 a significant decrease, 0 neither (or no interval).</param>
public sealed record ComparisonRow(
    string Endpoint, string Figure, double Base, double Candidate, double? ChangePercent, double? LowPercent, double? HighPercent,
    int Direction, Verdict Verdict, string? Note);

public sealed record RuleResult(string Rule, bool Breached, IReadOnlyList<string> Breaches);

/// <param name="Confidence">The confidence of all intervals together; each figure's own is 1 − (1 − this) / figures (Bonferroni).</param>
public sealed record ComparisonResult(
    string BaseFile, string CandidateFile, double Confidence, double FigureConfidence, int Resamples, int Seed, double NoisePercent,
    IReadOnlyList<ComparisonRow> Rows, IReadOnlyList<string> OnlyInBase, IReadOnlyList<string> OnlyInCandidate)
{
    public IReadOnlyList<RuleResult> FailOn { get; set; } = [];
    public int ExitCode { get; set; }
}

/// <summary>A --fail-on rule: <c>p95&gt;+10%</c> fails on a significant rise of p95 by more than 10%, <c>rps&lt;-5%</c> on a significant fall of throughput by more than 5%.</summary>
public sealed partial record FailRule(string Text, int Figure, char Op, double Percent)
{
    [GeneratedRegex(@"^(rps|p50|p90|p95|p99)\s*([<>])\s*([+-]?\d+(?:\.\d+)?)\s*%$")]
    private static partial Regex Pattern();

    public static IReadOnlyList<FailRule> ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rules = RuleList.Parse(text, Pattern(), part => new ArgumentException($"--fail-on rule '{part}' is not figure>+N% or figure<-N% (figures: {string.Join(", ", Figures.Names)})"), (part, m) =>
        {
            var op = m.Groups[2].Value[0];
            var percent = double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
            if ((op == '>' && percent < 0) || (op == '<' && percent > 0))
            {
                throw new ArgumentException($"--fail-on rule '{part}': a rise is >+N%, a fall <-N%");
            }
            return new FailRule(part, Array.IndexOf(Figures.Names, m.Groups[1].Value), op, percent);
        });
        if (rules.Count == 0)
        {
            throw new ArgumentException("--fail-on is empty");
        }
        return rules;
    }

    /// <summary>Breached by a row whose change is significant in the rule's direction and beyond its threshold.</summary>
    public bool IsBreachedBy(ComparisonRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return row.Figure == Figures.Names[Figure] && row.ChangePercent is { } change
            && (Op == '>' ? row.Direction > 0 && change > Percent : row.Direction < 0 && change < Percent);
    }
}

/// <summary>
/// Compares two runs figure by figure. The interval of each change is a bootstrap over one-second slices:
/// each run's slices are resampled with replacement, independently, and the quantiles of
/// (candidate / base − 1) over the resamples bound the change. Resampling whole seconds keeps what happens
/// within a second together (a GC pause, a burst), so the interval reflects how much the figure moves from
/// one stretch of a run to the next. The intervals hold at <see cref="Confidence"/> all together, not each
/// alone: with 15 figures at 95% each, two runs of the same system would show a "significant" change
/// somewhere one time in five. The random generator has a fixed seed: the same two files always get the
/// same verdicts.
/// </summary>
public sealed class Comparison
{
    public const string Overall = "all";
    /// <summary>Resamples when the files are small; fewer (down to <see cref="MinResamples"/>) when one resample of them is costly.</summary>
    public int Resamples { get; init; } = 10_000;
    public int MinResamples { get; init; } = 2000;
    /// <summary>Entries added up over all resamples before fewer resamples are taken: a few seconds on one core.</summary>
    public long WorkBudget { get; init; } = 2_000_000_000;
    public double Confidence { get; init; } = 0.95;
    public int Seed { get; init; } = 13;
    /// <summary>A change smaller than this is no significant change even when its interval excludes 0 (as Criterion's noise threshold).</summary>
    public double NoisePercent { get; init; } = 2;
    /// <summary>Fewer slices than this in either run: no interval.</summary>
    public int MinSlices { get; init; } = 5;

    public ComparisonResult Compare(string basePath, ResultFile b, string candidatePath, ResultFile c)
    {
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(c);
        var bs = b.Summary!;
        var cs = c.Summary!;
        var groups = new List<(string Name, double[] Base, double[] Candidate, ISlices? BaseSlices, ISlices? CandidateSlices)>
        {
            (Overall, Point(bs.CompletedInWindow / bs.DurationSeconds, bs.Latency), Point(cs.CompletedInWindow / cs.DurationSeconds, cs.Latency), OverallSlices(b), OverallSlices(c)),
        };
        var candidateNames = cs.Endpoints.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var be in bs.Endpoints.Where(e => candidateNames.Contains(e.Name)))
        {
            var ce = cs.Endpoints.First(e => e.Name == be.Name);
            var (bSlices, bRps) = EndpointSlices(b, be);
            var (cSlices, cRps) = EndpointSlices(c, ce);
            groups.Add((be.Name, Point(bRps, be.Latency), Point(cRps, ce.Latency), bSlices, cSlices));
        }
        var figureConfidence = 1 - (1 - Confidence) / (groups.Count * Figures.Count);
        var work = groups.Sum(g => (g.BaseSlices?.Work ?? 0) + (g.CandidateSlices?.Work ?? 0));
        var resamples = (int)Math.Clamp(WorkBudget / Math.Max(1, work), MinResamples, Resamples);
        var rows = groups.SelectMany(g => Rows(g.Name, g.Base, g.Candidate, g.BaseSlices, g.CandidateSlices, resamples, figureConfidence)).ToList();
        var baseNames = bs.Endpoints.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        return new ComparisonResult(
            basePath, candidatePath, Confidence, Math.Round(figureConfidence, 5), resamples, Seed, NoisePercent, rows,
            OnlyInBase: [.. baseNames.Where(n => !candidateNames.Contains(n))],
            OnlyInCandidate: [.. candidateNames.Where(n => !baseNames.Contains(n))]);
    }

    private static double[] Point(double rps, LatencyStats l) => [rps, l.P50, l.P90, l.P95, l.P99];

    private static ISlices? OverallSlices(ResultFile f)
    {
        if (f.PerSecond is { Endpoints.Count: > 0 } ps)
        {
            var count = ps.Endpoints.Max(e => e.Seconds.Count);
            return new HistogramSlices([.. Enumerable.Range(0, count).Select(i => (IReadOnlyList<SecondSlice>)[.. ps.Endpoints.Where(e => i < e.Seconds.Count).Select(e => e.Seconds[i])])]);
        }
        return f.Series.Count > 0 ? new SeriesSlices(f.Series) : null;
    }

    /// <summary>An endpoint's slices and throughput: completions per second with per_second, requests sent per second without.</summary>
    private static (ISlices? Slices, double Rps) EndpointSlices(ResultFile f, ResultEndpoint e)
    {
        var seconds = f.PerSecond?.Endpoints.FirstOrDefault(x => x.Name == e.Name);
        if (seconds is null)
        {
            return (null, e.Requests / f.Summary!.DurationSeconds);
        }
        return (new HistogramSlices([.. seconds.Seconds.Select(s => (IReadOnlyList<SecondSlice>)[s])]), seconds.Seconds.Sum(s => s.Completed) / f.Summary!.DurationSeconds);
    }

    private IEnumerable<ComparisonRow> Rows(string endpoint, double[] b, double[] c, ISlices? bSlices, ISlices? cSlices, int resamples, double confidence)
    {
        string? note = null;
        (double Low, double High)?[] intervals;
        if (bSlices is null || cSlices is null)
        {
            note = $"no per-second data in the {(bSlices is null ? "base" : "candidate")} file";
            intervals = new (double, double)?[Figures.Count];
        }
        else if (Math.Min(bSlices.Count, cSlices.Count) < MinSlices)
        {
            note = $"fewer than {MinSlices} seconds measured";
            intervals = new (double, double)?[Figures.Count];
        }
        else
        {
            intervals = Intervals(bSlices, cSlices, SeedFor(endpoint), resamples, confidence);
        }
        for (var f = 0; f < Figures.Count; f++)
        {
            double? change = b[f] > 0 && double.IsFinite(c[f]) ? 100 * (c[f] / b[f] - 1) : null;
            var interval = intervals[f];
            var direction = change is { } ch && interval is { } iv && Math.Abs(ch) >= NoisePercent
                ? iv.Low > 0 ? 1 : iv.High < 0 ? -1 : 0
                : 0;
            var verdict = interval is null || change is null ? Verdict.NoInterval
                : direction == 0 ? Verdict.NoSignificantChange
                : (direction > 0) == Figures.IsLatency(f) ? Verdict.Worse : Verdict.Better;
            var figureNote = note ?? (interval is null && change is not null ? "not in the per-second series of files without per_second" : null);
            yield return new ComparisonRow(endpoint, Figures.Names[f], Math.Round(b[f], 3), Math.Round(c[f], 3), Round(change),
                Round(interval?.Low), Round(interval?.High), direction, verdict, interval is null ? figureNote : null);
        }
    }

    private static double? Round(double? v) => v is { } x ? Math.Round(x, 2) : null;

    /// <summary>A seed per endpoint that does not depend on the other endpoints, nor on the process (string hashes are randomized).</summary>
    private int SeedFor(string endpoint)
    {
        var hash = 2166136261u;
        foreach (var ch in endpoint)
        {
            hash = (hash ^ ch) * 16777619u;
        }
        return Seed ^ (int)hash;
    }

    /// <summary>The bootstrap interval of the relative change (in percent) of every figure, or null where a figure is missing.</summary>
    private static (double Low, double High)?[] Intervals(ISlices b, ISlices c, int seed, int resamples, double confidence)
    {
        var random = new Random(seed);
        var changes = new double[Figures.Count][];
        for (var f = 0; f < Figures.Count; f++)
        {
            changes[f] = new double[resamples];
        }
        var bw = new int[b.Count];
        var cw = new int[c.Count];
        Span<double> bf = stackalloc double[Figures.Count];
        Span<double> cf = stackalloc double[Figures.Count];
        for (var r = 0; r < resamples; r++)
        {
            Draw(random, bw);
            Draw(random, cw);
            b.Figures(bw, bf);
            c.Figures(cw, cf);
            for (var f = 0; f < Figures.Count; f++)
            {
                changes[f][r] = bf[f] > 0 ? 100 * (cf[f] / bf[f] - 1) : double.NaN;
            }
        }
        var result = new (double Low, double High)?[Figures.Count];
        var tail = (1 - confidence) / 2;
        for (var f = 0; f < Figures.Count; f++)
        {
            var sorted = changes[f].Where(double.IsFinite).Order().ToArray();
            // A figure missing from the slices (p95 of a series), or undefined in too many resamples, gets no interval.
            if (sorted.Length < resamples * 0.99)
            {
                continue;
            }
            result[f] = (Quantile(sorted, tail), Quantile(sorted, 1 - tail));
        }
        return result;
    }

    /// <summary>Resampling with replacement: how many times each slice is drawn in n draws.</summary>
    private static void Draw(Random random, int[] weights)
    {
        Array.Clear(weights);
        for (var i = 0; i < weights.Length; i++)
        {
            weights[random.Next(weights.Length)]++;
        }
    }

    private static double Quantile(double[] sorted, double q)
    {
        var position = q * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(sorted.Length - 1, lower + 1);
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
    }
}
