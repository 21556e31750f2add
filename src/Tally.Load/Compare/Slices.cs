namespace Tally.Load.Compare;

/// <summary>The figures compare judges, in this order everywhere.</summary>
public static class Figures
{
    public static readonly string[] Names = ["rps", "p50", "p90", "p95", "p99"];
    public static readonly double[] Percentiles = [50, 90, 95, 99];
    public const int Count = 5;

    public static bool IsLatency(int figure) => figure > 0;
}

/// <summary>
/// One run's measuring window cut into one-second slices, for one endpoint or for all of them:
/// the figures of any resample of the slices (each slice taken <c>weights[i]</c> times).
/// </summary>
public interface ISlices
{
    int Count { get; }

    /// <summary>What one resample costs, roughly: the entries it adds up.</summary>
    long Work { get; }

    /// <summary>Where available, the figures of the slices weighted by <paramref name="weights"/> (NaN where not).</summary>
    void Figures(ReadOnlySpan<int> weights, Span<double> figures);
}

/// <summary>
/// Slices from per_second: the completions for the throughput and the latencies as HdrHistograms, so that the
/// percentile of a resample is exactly that of its merged histograms (all slices once: the run's own figure).
/// </summary>
public sealed class HistogramSlices : ISlices
{
    private readonly double[] _values;
    private readonly int[][] _index;
    private readonly long[][] _counts;
    private readonly double[] _length;
    private readonly long[] _completed;
    private readonly long[] _merged;

    /// <param name="slices">Per slice, one or more endpoints' slices of the same second (their histograms add up).</param>
    public HistogramSlices(IReadOnlyList<IReadOnlyList<SecondSlice>> slices)
    {
        ArgumentNullException.ThrowIfNull(slices);
        var decoded = slices.Select(group => group.SelectMany(s => HistogramText.Decode(s.Histogram).RecordedValues()
            .Select(v => (v.ValueIteratedTo, v.CountAtValueIteratedTo))).GroupBy(v => v.ValueIteratedTo)
            .Select(g => (Value: g.Key, Count: g.Sum(v => v.CountAtValueIteratedTo))).ToList()).ToList();
        var values = decoded.SelectMany(d => d.Select(v => v.Value)).Distinct().Order().ToArray();
        var position = values.Select((v, i) => (v, i)).ToDictionary(x => x.v, x => x.i);
        _values = [.. values.Select(v => v / 1000.0)];
        _index = [.. decoded.Select(d => d.Select(v => position[v.Value]).ToArray())];
        _counts = [.. decoded.Select(d => d.Select(v => v.Count).ToArray())];
        _length = [.. slices.Select(g => g.Count == 0 ? 0 : g[0].Length)];
        _completed = [.. slices.Select(g => g.Sum(s => s.Completed))];
        _merged = new long[values.Length];
    }

    public int Count => _length.Length;

    public long Work => _values.Length + _index.Sum(x => (long)x.Length);

    public void Figures(ReadOnlySpan<int> weights, Span<double> figures)
    {
        Array.Clear(_merged);
        double completed = 0, length = 0;
        long total = 0;
        for (var i = 0; i < _length.Length; i++)
        {
            var w = weights[i];
            if (w == 0)
            {
                continue;
            }
            completed += (double)w * _completed[i];
            length += w * _length[i];
            var index = _index[i];
            var counts = _counts[i];
            for (var j = 0; j < index.Length; j++)
            {
                _merged[index[j]] += w * counts[j];
                total += w * counts[j];
            }
        }
        figures[0] = length > 0 ? completed / length : double.NaN;
        // HdrHistogram's own rule (GetValueAtPercentile): the first value whose cumulative count reaches p% of the total, rounded.
        var next = 0;
        long cumulative = 0;
        for (var v = 0; v < _merged.Length && next < Compare.Figures.Percentiles.Length; v++)
        {
            cumulative += _merged[v];
            while (next < Compare.Figures.Percentiles.Length && cumulative >= Math.Max(1, (long)(Compare.Figures.Percentiles[next] / 100 * total + 0.5)))
            {
                figures[1 + next++] = _values[v];
            }
        }
        for (; next < Compare.Figures.Percentiles.Length; next++)
        {
            figures[1 + next] = double.NaN;
        }
    }
}

/// <summary>
/// Slices from the overall <c>series</c> of a file written before per_second: the mean throughput and the
/// request-weighted mean of each second's percentile. An approximation of the run's percentile, used only
/// for the interval; it has no p95 (the series never had one).
/// </summary>
public sealed class SeriesSlices(IReadOnlyList<SeriesPoint> series) : ISlices
{
    public int Count => series.Count;

    public long Work => series.Count;

    public void Figures(ReadOnlySpan<int> weights, Span<double> figures)
    {
        double n = 0, requests = 0, p50 = 0, p90 = 0, p99 = 0;
        for (var i = 0; i < series.Count; i++)
        {
            var w = weights[i];
            var s = series[i];
            n += w;
            requests += w * s.Rps;
            p50 += w * s.Rps * s.P50;
            p90 += w * s.Rps * s.P90;
            p99 += w * s.Rps * s.P99;
        }
        figures[0] = n > 0 ? requests / n : double.NaN;
        figures[1] = requests > 0 ? p50 / requests : double.NaN;
        figures[2] = requests > 0 ? p90 / requests : double.NaN;
        figures[3] = double.NaN;
        figures[4] = requests > 0 ? p99 / requests : double.NaN;
    }
}
