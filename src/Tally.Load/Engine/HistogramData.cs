using HdrHistogram;

namespace Tally.Load.Engine;

/// <summary>
/// A histogram as its recorded buckets, [value, count] pairs, for the wire between a coordinator
/// and its agents. Each value is its bucket's highest equivalent value, so recording the pairs into
/// a histogram of the same range and precision fills exactly the same buckets: merged percentiles
/// equal those of all the samples recorded in one histogram.
/// </summary>
public static class HistogramData
{
    public static long[][] Export(HistogramBase histogram)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        return [.. histogram.RecordedValues().Select(v => new[] { v.ValueIteratedTo, v.CountAtValueIteratedTo })];
    }

    public static void AddTo(HistogramBase histogram, IEnumerable<long[]> pairs)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        ArgumentNullException.ThrowIfNull(pairs);
        foreach (var pair in pairs)
        {
            if (pair is not [var value, var count] || count < 0 || value < 1)
            {
                throw new FormatException("a histogram bucket is [value >= 1, count >= 0]");
            }
            histogram.RecordValueWithCount(Math.Min(value, histogram.HighestTrackableValue), count);
        }
    }
}
