namespace Tally.Server.Admission;

/// <summary>
/// The adaptive part of admission control: a concurrency limit driven by measured latency, in the family of
/// Netflix's concurrency-limits (Gradient2, Vegas) and Envoy's adaptive concurrency filter. Every
/// <see cref="BulkheadOptions.Window"/> it averages the latency of the requests that completed and compares it
/// with a baseline, the lowest window average of the last <see cref="BulkheadOptions.BaselineWindow"/>:
/// <list type="bullet">
/// <item>above the target (baseline × tolerance, or baseline + headroom, capped by the ceiling), requests are
/// queueing inside the instance: the limit shrinks by target / latency, at most by half per window;</item>
/// <item>at or below it, and with the limit actually in use (in-flight reached 3/4 of it), the limit grows by
/// √limit, so it finds the capacity quickly and stops growing when demand, not the limit, is what binds.</item>
/// </list>
/// Unlike Gradient2 the baseline is a sliding minimum rather than a long average, so sustained overload can't
/// drag the target up with it; unlike Envoy it needs no periodic probe at minimum concurrency (which would
/// refuse good traffic), because the window minimum re-forms from ordinary traffic. Not thread-safe: the
/// limiter calls it under its lock.
/// </summary>
public sealed class LatencyLimit
{
    private readonly BulkheadOptions _options;
    private readonly LinkedList<(TimeSpan At, double Seconds)> _minima = new();
    private double _limit;
    private double _sum;
    private int _count;
    private int _peakInFlight;
    private TimeSpan _windowStart;

    public LatencyLimit(BulkheadOptions options, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _limit = options.InitialLimit;
        _windowStart = now;
    }

    /// <summary>The whole number of requests that may run at once.</summary>
    public int Current => (int)_limit;

    /// <summary>The lowest window latency remembered, in seconds; null before the first window.</summary>
    public double? Baseline => _minima.First?.Value.Seconds;

    /// <summary>The last window's mean latency, in seconds.</summary>
    public double? LastWindow { get; private set; }

    /// <summary>Records one completed request; <paramref name="inFlight"/> is how many ran when it was admitted, itself included.</summary>
    public void Record(TimeSpan latency, int inFlight, TimeSpan now)
    {
        _sum += latency.TotalSeconds;
        _count++;
        _peakInFlight = Math.Max(_peakInFlight, inFlight);
        if (now - _windowStart >= _options.Window && _count >= _options.MinSamples)
        {
            Update(now);
        }
    }

    private void Update(TimeSpan now)
    {
        var mean = _sum / _count;
        LastWindow = mean;
        // Sliding minimum over the baseline window (a monotonic deque: each entry is smaller than those after it).
        while (_minima.Last is { } last && last.Value.Seconds >= mean)
        {
            _minima.RemoveLast();
        }
        _minima.AddLast((now, mean));
        while (_minima.First is { } first && first.Value.At < now - _options.BaselineWindow)
        {
            _minima.RemoveFirst();
        }
        var baseline = _minima.First!.Value.Seconds;
        var target = Math.Min(
            _options.LatencyCeiling.TotalSeconds,
            Math.Max(baseline * _options.Tolerance, baseline + _options.Headroom.TotalSeconds));

        if (mean > target)
        {
            _limit = Math.Max(_options.MinLimit, _limit * Math.Max(0.5, target / mean));
        }
        else if (_peakInFlight >= _limit * 0.75)
        {
            _limit = Math.Min(_options.MaxLimit, _limit + Math.Max(1, Math.Sqrt(_limit)));
        }

        _sum = 0;
        _count = 0;
        _peakInFlight = 0;
        _windowStart = now;
    }
}
