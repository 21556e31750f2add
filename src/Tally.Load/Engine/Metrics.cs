using System.Diagnostics;
using System.Text.Json.Serialization;
using HdrHistogram;

namespace Tally.Load.Engine;

/// <summary>Latency percentiles in milliseconds.</summary>
public sealed class LatencyStats
{
    [JsonIgnore] private readonly HistogramBase? _histogram;

    public LatencyStats() { }

    public LatencyStats(HistogramBase h)
    {
        _histogram = h;
        Count = h.TotalCount;
        if (Count == 0)
        {
            return;
        }
        Mean = h.GetMean() / 1000.0;
        P50 = Ms(h, 50);
        P90 = Ms(h, 90);
        P95 = Ms(h, 95);
        P99 = Ms(h, 99);
        P999 = Ms(h, 99.9);
        Max = h.GetMaxValue() / 1000.0;
        Distribution = [.. SpectrumPoints.Select(p => new PercentilePoint(p, Ms(h, p)))];
    }

    private static readonly double[] SpectrumPoints =
        [0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96.875, 98, 99, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 100];

    private static double Ms(HistogramBase h, double p) => h.GetValueAtPercentile(p) / 1000.0;

    public long Count { get; init; }
    public double Mean { get; init; }
    public double P50 { get; init; }
    public double P90 { get; init; }
    public double P95 { get; init; }
    public double P99 { get; init; }
    public double P999 { get; init; }
    public double Max { get; init; }
    public IReadOnlyList<PercentilePoint> Distribution { get; init; } = [];

    public double At(double percentile)
    {
        if (_histogram is { TotalCount: > 0 })
        {
            return Ms(_histogram, percentile);
        }
        return percentile switch { >= 100 => Max, >= 99.9 => P999, >= 99 => P99, >= 95 => P95, >= 90 => P90, _ => P50 };
    }
}

public sealed record PercentilePoint(double Percentile, double Ms);

/// <summary>The figures of a run or of a window, which thresholds are judged against.</summary>
public sealed class Summary
{
    public double DurationSeconds { get; init; }
    /// <summary>Requests sent in the measuring window (after the warm-up), whenever they completed.</summary>
    public long Requests { get; init; }
    public long Errors { get; init; }
    /// <summary>Requests that completed inside the measuring window, whenever they were sent.</summary>
    public long CompletedInWindow { get; init; }
    public double ErrorRatePercent => Requests == 0 ? 0 : 100.0 * Errors / Requests;
    /// <summary>Achieved throughput: completions inside the window per second of the window.</summary>
    public double Rps => DurationSeconds <= 0 ? 0 : CompletedInWindow / DurationSeconds;
    /// <summary>
    /// The sustained throughput: the interquartile mean of the completion rates of the window's
    /// 250 ms slices. A pause (GC, scheduler) near the window's edge pushes completions out of
    /// one slice and can't lower it, while a real overload lowers every slice. Equals
    /// <see cref="Rps"/> for windows shorter than 1 s.
    /// </summary>
    public double SteadyRps { get; init; }
    public long Dropped { get; init; }
    public LatencyStats Latency { get; init; } = new();
    public IReadOnlyList<EndpointStats> Endpoints { get; init; } = [];
    public IReadOnlyDictionary<string, long> ErrorsByKind { get; init; } = new Dictionary<string, long>();
}

public sealed record EndpointStats(string Name, long Requests, long Errors, LatencyStats Latency);

/// <summary>What a <see cref="Metrics"/> recorded, as plain data (histograms in <see cref="HistogramText"/>; merged bucket by bucket).</summary>
public sealed record MetricsState(
    string Overall, IReadOnlyList<string> Endpoints, IReadOnlyList<long> EndpointErrors,
    IReadOnlyDictionary<string, long> Errors, long ErrorsTotal, long CompletedInWindow, IReadOnlyList<long> Slices, long Dropped,
    IReadOnlyList<IReadOnlyList<long[][]>> SecondLatencies, IReadOnlyList<IReadOnlyList<long>> SecondCompletions);

/// <summary>One second of the run. <c>Vus</c> is the users running (closed model); <c>Active</c> the requests in flight.</summary>
public sealed record Sample(
    double T, double Rps, double ErrorsPerSecond, double P50, double P90, double P99, double Max,
    double Target, int Vus, int Active, long Backlog, long Dropped, double GeneratorCpuPercent);

/// <summary>
/// Records every completed request: an HdrHistogram per endpoint and overall (microseconds,
/// 3 significant digits), an interval histogram for the time series, and errors by kind.
/// The measuring window [from, until) is in Stopwatch timestamps: a request counts in the
/// histograms when it was (meant to be) sent inside the window, so the latency of a request
/// queued by an overloaded step is never lost; it counts in the throughput when it completed
/// inside the window, so completions drained after the window (or left over from the
/// warm-up backlog) can't inflate the achieved rate.
/// </summary>
public sealed class Metrics
{
    private const long Highest = 3_600_000_000; // one hour in microseconds
    private readonly Lock _gate = new();
    private readonly string[] _endpoints;
    private readonly LongHistogram _overall = New();
    private readonly LongHistogram[] _perEndpoint;
    private readonly long[] _endpointErrors;
    private readonly LongHistogram _interval = New();
    private readonly Dictionary<string, long> _errors = new(StringComparer.Ordinal);
    private long _intervalErrors;
    private long _errorsTotal;
    private long _dropped;
    private long _completedInWindow;
    private long _from = long.MinValue;
    private long _until = long.MaxValue;
    private static readonly long SliceTicks = Stopwatch.Frequency / 4;
    private long[] _slices = [];
    // Per endpoint and second of the window: latencies (at the histograms' precision) of the requests
    // sent in it, and the completions in it. Sparse, so memory follows the distinct values, not the range.
    private readonly List<Dictionary<long, long>>[] _secondLatencies;
    private readonly List<long>[] _secondCompletions;

    public Metrics(IReadOnlyList<string> endpoints)
    {
        _endpoints = [.. endpoints];
        _perEndpoint = [.. endpoints.Select(_ => New())];
        _endpointErrors = new long[endpoints.Count];
        _secondLatencies = [.. endpoints.Select(_ => new List<Dictionary<long, long>>())];
        _secondCompletions = [.. endpoints.Select(_ => new List<long>())];
    }

    private static LongHistogram New() => new(1, Highest, 3);

    /// <summary>A histogram of the range and precision every generator records with: microseconds up to an hour, 3 digits.</summary>
    public static HistogramBase NewHistogram() => New();

    /// <summary>Sets the measuring window, in Stopwatch timestamps.</summary>
    public void SetWindow(long from, long until)
    {
        lock (_gate)
        {
            _slices = until > from && until - from < 3600 * Stopwatch.Frequency ? new long[(until - from + SliceTicks - 1) / SliceTicks] : [];
        }
        Volatile.Write(ref _from, from);
        Volatile.Write(ref _until, until);
    }

    /// <summary>True once the warm-up is over.</summary>
    public bool IsMeasuring(long timestamp) => timestamp >= Volatile.Read(ref _from);

    public long Completed { get { lock (_gate) { return _overall.TotalCount; } } }

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Counts arrivals that were never sent; those meant for the warm-up don't count.</summary>
    public void AddDropped(long intended, long n = 1)
    {
        if (IsMeasuring(intended))
        {
            Interlocked.Add(ref _dropped, n);
        }
    }

    /// <param name="origin">When the request was sent, or in the open model meant to be sent.</param>
    /// <param name="end">When it completed.</param>
    public void Record(int endpoint, long origin, long end, bool ok, string? errorKind)
    {
        var value = Math.Clamp((long)Stopwatch.GetElapsedTime(origin, end).TotalMicroseconds, 1, Highest);
        var sentInWindow = origin >= Volatile.Read(ref _from);
        var completedInWindow = end >= Volatile.Read(ref _from) && end < Volatile.Read(ref _until);
        lock (_gate)
        {
            _interval.RecordValue(value);
            if (!ok)
            {
                _intervalErrors++;
            }
            if (completedInWindow)
            {
                _completedInWindow++;
                var slice = (end - _from) / SliceTicks;
                if (slice < _slices.Length)
                {
                    _slices[slice]++;
                }
                var completions = _secondCompletions[endpoint];
                var second = (int)((end - _from) / Stopwatch.Frequency);
                while (completions.Count <= second)
                {
                    completions.Add(0);
                }
                completions[second]++;
            }
            if (!sentInWindow)
            {
                return;
            }
            _overall.RecordValue(value);
            _perEndpoint[endpoint].RecordValue(value);
            var seconds = _secondLatencies[endpoint];
            var sent = (int)Math.Min(int.MaxValue, (origin - _from) / Stopwatch.Frequency);
            while (seconds.Count <= sent)
            {
                seconds.Add([]);
            }
            var key = _overall.LowestEquivalentValue(value);
            seconds[sent][key] = seconds[sent].GetValueOrDefault(key) + 1;
            if (!ok)
            {
                _endpointErrors[endpoint]++;
                _errorsTotal++;
                var kind = errorKind ?? "error";
                _errors[kind] = _errors.GetValueOrDefault(kind) + 1;
            }
        }
    }

    /// <summary>Takes the interval histogram since the previous call and starts a new one.</summary>
    public (LongHistogram Histogram, long Errors) TakeInterval()
    {
        lock (_gate)
        {
            var copy = (LongHistogram)_interval.Copy();
            var errors = _intervalErrors;
            _interval.Reset();
            _intervalErrors = 0;
            return (copy, errors);
        }
    }

    private double Steady(double durationSeconds)
    {
        var full = (int)Math.Min(_slices.Length, Math.Floor(durationSeconds * 4 + 1e-6));
        if (full < 4)
        {
            return durationSeconds <= 0 ? 0 : _completedInWindow / durationSeconds;
        }
        var sorted = _slices.Take(full).Order().ToArray();
        var trim = full / 4;
        return sorted.Skip(trim).Take(full - 2 * trim).Average() * 4;
    }

    /// <summary>Everything recorded so far, to be merged into another generator's <see cref="Metrics"/> (an agent's share of a run).</summary>
    public MetricsState Export()
    {
        lock (_gate)
        {
            return new MetricsState(
                HistogramText.Encode(_overall), [.. _perEndpoint.Select(HistogramText.Encode)], [.. _endpointErrors],
                new Dictionary<string, long>(_errors), _errorsTotal, _completedInWindow, [.. _slices], Interlocked.Read(ref _dropped),
                [.. _secondLatencies.Select(seconds => (IReadOnlyList<long[][]>)[.. seconds.Select(d => d.Select(kv => new[] { kv.Key, kv.Value }).ToArray())])],
                [.. _secondCompletions.Select(c => (IReadOnlyList<long>)[.. c])]);
        }
    }

    /// <summary>
    /// Adds another generator's share of the same run, measured over a window of the same length that
    /// started at the same moment: histograms merge bucket by bucket, counts and 250 ms slices add up.
    /// </summary>
    public void Merge(MetricsState other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Endpoints.Count != _perEndpoint.Length || other.EndpointErrors.Count != _perEndpoint.Length)
        {
            throw new FormatException($"the share has {other.Endpoints.Count} endpoints, this run {_perEndpoint.Length}: not the same scenario");
        }
        lock (_gate)
        {
            _overall.Add(HistogramText.Decode(other.Overall));
            for (var i = 0; i < _perEndpoint.Length; i++)
            {
                _perEndpoint[i].Add(HistogramText.Decode(other.Endpoints[i]));
                _endpointErrors[i] += other.EndpointErrors[i];
            }
            foreach (var (kind, count) in other.Errors)
            {
                _errors[kind] = _errors.GetValueOrDefault(kind) + count;
            }
            _errorsTotal += other.ErrorsTotal;
            _completedInWindow += other.CompletedInWindow;
            for (var i = 0; i < Math.Min(_slices.Length, other.Slices.Count); i++)
            {
                _slices[i] += other.Slices[i];
            }
            for (var e = 0; e < Math.Min(_perEndpoint.Length, other.SecondLatencies.Count); e++)
            {
                var seconds = _secondLatencies[e];
                for (var i = 0; i < other.SecondLatencies[e].Count; i++)
                {
                    while (seconds.Count <= i)
                    {
                        seconds.Add([]);
                    }
                    foreach (var pair in other.SecondLatencies[e][i])
                    {
                        if (pair is not [var value, var count] || count < 0)
                        {
                            throw new FormatException("a per-second latency is [value, count >= 0]");
                        }
                        seconds[i][value] = seconds[i].GetValueOrDefault(value) + count;
                    }
                }
            }
            for (var e = 0; e < Math.Min(_perEndpoint.Length, other.SecondCompletions.Count); e++)
            {
                var completions = _secondCompletions[e];
                for (var i = 0; i < other.SecondCompletions[e].Count; i++)
                {
                    while (completions.Count <= i)
                    {
                        completions.Add(0);
                    }
                    completions[i] += other.SecondCompletions[e][i];
                }
            }
        }
        Interlocked.Add(ref _dropped, other.Dropped);
    }

    /// <summary>
    /// The window's one-second slices per endpoint, for a window of <paramref name="durationSeconds"/>. A request
    /// sent after the window's last second (a late start in the closed model) counts in that last second.
    /// </summary>
    public PerSecond PerSecond(double durationSeconds)
    {
        var count = Math.Max(1, (int)Math.Ceiling(durationSeconds - 1e-6));
        lock (_gate)
        {
            var histogram = New();
            var endpoints = new List<EndpointSeconds>();
            for (var e = 0; e < _endpoints.Length; e++)
            {
                if (_perEndpoint[e].TotalCount == 0)
                {
                    continue;
                }
                var slices = new List<SecondSlice>(count);
                for (var i = 0; i < count; i++)
                {
                    histogram.Reset();
                    var last = i == count - 1 ? _secondLatencies[e].Count : i + 1;
                    for (var j = i; j < last && j < _secondLatencies[e].Count; j++)
                    {
                        foreach (var (value, n) in _secondLatencies[e][j])
                        {
                            histogram.RecordValueWithCount(value, n);
                        }
                    }
                    var completed = i < _secondCompletions[e].Count ? _secondCompletions[e][i] : 0;
                    slices.Add(new SecondSlice(i, Math.Round(Math.Min(1, durationSeconds - i), 3), completed, histogram.TotalCount, HistogramText.Encode(histogram)));
                }
                endpoints.Add(new EndpointSeconds(_endpoints[e], slices));
            }
            return new PerSecond(endpoints);
        }
    }

    public Summary Summarize(double durationSeconds)
    {
        lock (_gate)
        {
            return new Summary
            {
                DurationSeconds = durationSeconds,
                Requests = _overall.TotalCount,
                Errors = _errorsTotal,
                CompletedInWindow = _completedInWindow,
                SteadyRps = Steady(durationSeconds),
                Dropped = Interlocked.Read(ref _dropped),
                Latency = new LatencyStats(_overall.Copy()),
                Endpoints = [.. _endpoints.Select((name, i) => new EndpointStats(name, _perEndpoint[i].TotalCount, _endpointErrors[i], new LatencyStats(_perEndpoint[i].Copy())))
                    .Where(e => e.Requests > 0)],
                ErrorsByKind = new Dictionary<string, long>(_errors),
            };
        }
    }
}
