using System.Diagnostics;
using HdrHistogram;

namespace Tally.Load.Stress;

/// <summary>One planned phase: its multiplier of the capacity and its place on the run's clock.</summary>
public sealed record PhasePlan(int Index, string Role, double Multiplier, double Target, double StartSeconds, double DurationSeconds)
{
    public double EndSeconds => StartSeconds + DurationSeconds;
}

/// <summary>
/// Sorts every request of a stress run into the phase, and the second of that phase, in which it
/// was (meant to be) sent: accepted (2xx), refused (503/429 with Retry-After) or failed, with an
/// HdrHistogram of accepted and of refused latencies per phase and per second.
/// </summary>
/// <summary>One phase as one generator recorded it (histograms in <see cref="HistogramText"/>), exchanged between an agent and its coordinator.</summary>
public sealed record StressPhaseState(
    long Sent, long Good, long Errors, long Dropped, long NoHealthyUpstream, string Accepted, string Refused,
    IReadOnlyDictionary<string, long> RefusedByKind, IReadOnlyDictionary<string, long> ErrorsByKind, IReadOnlyList<StressSecondState> Seconds);

public sealed record StressSecondState(long Sent, long Good, long Errors, string Accepted, string Refused);

/// <summary>What an agent needs to sort its requests into the stress phases as the coordinator does.</summary>
public sealed record StressSetup(IReadOnlyList<PhasePlan> Phases, SloRule Latency, SloRule? Errors);

public sealed class StressRecorder : IRequestObserver
{
    public const string NoHealthyUpstreamCode = "NO_HEALTHY_UPSTREAM";
    private const long Highest = 3_600_000_000;
    // Two significant digits and a 10-minute ceiling keep a histogram per second small.
    private const long SecondHighest = 600_000_000;
    private readonly Lock _gate = new();
    private readonly IReadOnlyList<PhasePlan> _plan;
    private readonly SloRule _latency;
    private readonly SloRule? _errors;
    private readonly double _percentile;
    private readonly PhaseData[] _data;
    private long _start;
    private long _end;

    /// <param name="latency">The SLO's latency rule (p95&lt;300ms): an answer within its limit is goodput, and a second of the recovery is healthy when its percentile of accepted requests passes it.</param>
    /// <param name="errors">The SLO's error rule (errors&lt;1%), if any: a healthy second also keeps refusals and errors under it.</param>
    public StressRecorder(IReadOnlyList<PhasePlan> plan, SloRule latency, SloRule? errors)
    {
        ArgumentNullException.ThrowIfNull(plan);
        _plan = plan;
        _latency = latency;
        _errors = errors;
        _percentile = LatencyPercentile(latency);
        _data = [.. plan.Select(p => new PhaseData((int)Math.Ceiling(p.DurationSeconds - 1e-9)))];
    }

    /// <summary>The percentile a latency rule judges: 95 for p95, 100 for max.</summary>
    public static double LatencyPercentile(SloRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return rule.Metric switch
        {
            "max" => 100,
            ['p', .. var rest] => double.Parse(rest, System.Globalization.CultureInfo.InvariantCulture),
            _ => throw new ArgumentException($"'{rule.Expression}' is not a latency percentile (pNN or max)"),
        };
    }

    private double TotalSeconds => _plan[^1].EndSeconds;

    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Started(long start)
    {
        Volatile.Write(ref _start, start);
        _started.TrySetResult();
    }

    /// <summary>Completes when the run's clock has started.</summary>
    public Task WhenStarted => _started.Task;

    /// <summary>Marks the end of the measured time (the run's end or an interruption).</summary>
    public void Stopped() => Volatile.Write(ref _end, Stopwatch.GetTimestamp());

    private (int Phase, int Second) Locate(double t)
    {
        t = Math.Clamp(t, 0, TotalSeconds);
        for (var i = 0; i < _plan.Count; i++)
        {
            if (t < _plan[i].EndSeconds || i == _plan.Count - 1)
            {
                var second = (int)Math.Floor(t - _plan[i].StartSeconds);
                return (i, Math.Clamp(second, 0, _data[i].Seconds.Length - 1));
            }
        }
        return (_plan.Count - 1, 0);
    }

    public void Completed(long origin, long end, Outcome outcome)
    {
        var start = Volatile.Read(ref _start);
        var (phase, second) = Locate(Stopwatch.GetElapsedTime(start, origin).TotalSeconds);
        var micros = Math.Clamp((long)Stopwatch.GetElapsedTime(origin, end).TotalMicroseconds, 1, Highest);
        var kind = outcome.ErrorKind ?? "error";
        var noUpstream = !outcome.Ok && kind.Contains(NoHealthyUpstreamCode, StringComparison.Ordinal);
        lock (_gate)
        {
            var d = _data[phase];
            var s = d.Seconds[second];
            d.Sent++;
            s.Sent++;
            if (outcome.Ok)
            {
                d.Accepted.RecordValue(micros);
                s.Accepted.RecordValue(Math.Min(micros, SecondHighest));
                if (_latency.Passes(micros / 1000.0))
                {
                    d.Good++;
                    s.Good++;
                }
            }
            else if (outcome.Refused && !noUpstream)
            {
                d.Refused.RecordValue(micros);
                s.Refused.RecordValue(Math.Min(micros, SecondHighest));
                d.RefusedByKind[kind] = d.RefusedByKind.GetValueOrDefault(kind) + 1;
            }
            else
            {
                d.Errors++;
                s.Errors++;
                d.ErrorsByKind[kind] = d.ErrorsByKind.GetValueOrDefault(kind) + 1;
                if (noUpstream)
                {
                    d.NoHealthyUpstream++;
                }
            }
        }
    }

    /// <summary>A request of the single user who sends one request at a time (<see cref="SingleUserProbe"/>), by its send time.</summary>
    public void ProbeCompleted(long origin, long end, Outcome outcome)
    {
        var (phase, _) = Locate(Stopwatch.GetElapsedTime(Volatile.Read(ref _start), origin).TotalSeconds);
        var micros = Math.Clamp((long)Stopwatch.GetElapsedTime(origin, end).TotalMicroseconds, 1, Highest);
        var ms = micros / 1000.0;
        lock (_gate)
        {
            var probe = _data[phase].Probe;
            probe.Latency.RecordValue(micros);
            if (outcome.Ok && _latency.Passes(ms))
            {
                probe.WithinSlo++;
            }
            else if (outcome.Refused)
            {
                probe.Refused++;
            }
            else if (!outcome.Ok)
            {
                probe.Errors++;
            }
            if (!_latency.Passes(ms))
            {
                probe.Slow++;
            }
        }
    }

    public void Dropped(long intended, long count)
    {
        var phase = intended == long.MaxValue ? _plan.Count - 1 : Locate(Stopwatch.GetElapsedTime(Volatile.Read(ref _start), intended).TotalSeconds).Phase;
        lock (_gate)
        {
            _data[phase].Dropped += count;
        }
    }

    /// <summary>What this generator recorded per phase and second (not the probe, which runs on the coordinator only), for the coordinator to merge.</summary>
    public IReadOnlyList<StressPhaseState> Export()
    {
        lock (_gate)
        {
            return [.. _data.Select(d => new StressPhaseState(
                d.Sent, d.Good, d.Errors, d.Dropped, d.NoHealthyUpstream, HistogramText.Encode(d.Accepted), HistogramText.Encode(d.Refused),
                new Dictionary<string, long>(d.RefusedByKind), new Dictionary<string, long>(d.ErrorsByKind),
                [.. d.Seconds.Select(x => new StressSecondState(x.Sent, x.Good, x.Errors, HistogramText.Encode(x.Accepted), HistogramText.Encode(x.Refused)))]))];
        }
    }

    /// <summary>Adds an agent's share of the same phases: counts add up, histograms bucket by bucket.</summary>
    public void Merge(IReadOnlyList<StressPhaseState> share)
    {
        ArgumentNullException.ThrowIfNull(share);
        if (share.Count != _data.Length)
        {
            throw new FormatException($"the share has {share.Count} phases, this run {_data.Length}");
        }
        lock (_gate)
        {
            for (var i = 0; i < _data.Length; i++)
            {
                var (d, x) = (_data[i], share[i]);
                d.Sent += x.Sent;
                d.Good += x.Good;
                d.Errors += x.Errors;
                d.Dropped += x.Dropped;
                d.NoHealthyUpstream += x.NoHealthyUpstream;
                d.Accepted.Add(HistogramText.Decode(x.Accepted));
                d.Refused.Add(HistogramText.Decode(x.Refused));
                foreach (var (kind, n) in x.RefusedByKind)
                {
                    d.RefusedByKind[kind] = d.RefusedByKind.GetValueOrDefault(kind) + n;
                }
                foreach (var (kind, n) in x.ErrorsByKind)
                {
                    d.ErrorsByKind[kind] = d.ErrorsByKind.GetValueOrDefault(kind) + n;
                }
                for (var k = 0; k < Math.Min(d.Seconds.Length, x.Seconds.Count); k++)
                {
                    var (s, y) = (d.Seconds[k], x.Seconds[k]);
                    s.Sent += y.Sent;
                    s.Good += y.Good;
                    s.Errors += y.Errors;
                    s.Accepted.Add(HistogramText.Decode(y.Accepted));
                    s.Refused.Add(HistogramText.Decode(y.Refused));
                }
            }
        }
    }

    /// <summary>The phases as measured; <paramref name="server"/> holds the server's samples timed from the run's start, <paramref name="generator"/> the engine's own per-second samples.</summary>
    public IReadOnlyList<StressPhase> Build(double capacityRps, IReadOnlyList<ServerSample> server, IReadOnlyList<Sample>? generator = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        var start = Volatile.Read(ref _start);
        var end = Volatile.Read(ref _end);
        var elapsed = start == 0 ? 0 : Stopwatch.GetElapsedTime(start, end == 0 ? Stopwatch.GetTimestamp() : end).TotalSeconds;
        var phases = new List<StressPhase>();
        double? baseWorkingSet = null;
        lock (_gate)
        {
            for (var i = 0; i < _plan.Count; i++)
            {
                var p = _plan[i];
                var d = _data[i];
                var measured = Math.Clamp(elapsed - p.StartSeconds, 0, p.DurationSeconds);
                var last = i == _plan.Count - 1;
                // Gauges belong to the phase they were read in; the last phase keeps its drain.
                var samples = server.Where(x => x.T >= p.StartSeconds && (x.T < p.EndSeconds || (last && x.T <= p.EndSeconds + 1))).ToList();
                var workingSet = samples.Where(x => x.WorkingSetMb is not null).Select(x => x.WorkingSetMb!.Value).DefaultIfEmpty(double.NaN).Max();
                var cpu = samples.Where(x => x.CpuPercent is not null).Select(x => x.CpuPercent!.Value).DefaultIfEmpty(double.NaN).Average();
                double? ws = double.IsNaN(workingSet) ? null : workingSet;
                // A sample covers the second before its time stamp.
                var generatorCpu = (generator ?? []).Where(x => x.T > p.StartSeconds && (x.T <= p.EndSeconds || (last && x.T <= p.EndSeconds + 1)))
                    .Select(x => x.GeneratorCpuPercent).DefaultIfEmpty(double.NaN).Average();
                if (i == 0)
                {
                    baseWorkingSet = ws;
                }
                var seconds = BuildSeconds(p, d, measured);
                var refused = d.Refused.TotalCount;
                var per = measured > 0 ? 1 / measured : 0;
                phases.Add(new StressPhase
                {
                    Index = p.Index,
                    Role = p.Role,
                    Multiplier = p.Multiplier,
                    Target = Math.Round(p.Target, 2),
                    StartSeconds = p.StartSeconds,
                    DurationSeconds = p.DurationSeconds,
                    MeasuredSeconds = Math.Round(measured, 3),
                    Sent = d.Sent,
                    Dropped = d.Dropped,
                    OfferedRps = Math.Round(d.Sent * per, 1),
                    Accepted = d.Accepted.TotalCount,
                    Good = d.Good,
                    GoodputRps = Math.Round(d.Good * per, 1),
                    GoodputFraction = capacityRps > 0 ? Math.Round(d.Good * per / capacityRps, 3) : 0,
                    Refused = refused,
                    RefusedRps = Math.Round(refused * per, 1),
                    RefusedByKind = new Dictionary<string, long>(d.RefusedByKind),
                    RefusedLatency = new LatencyStats(d.Refused.Copy()),
                    AcceptedLatency = new LatencyStats(d.Accepted.Copy()),
                    Errors = d.Errors,
                    ErrorRatePercent = d.Sent == 0 ? 0 : Math.Round(100.0 * d.Errors / d.Sent, 3),
                    ErrorsByKind = new Dictionary<string, long>(d.ErrorsByKind),
                    NoHealthyUpstream = d.NoHealthyUpstream,
                    WorkingSetMbMax = ws,
                    MemoryRatio = ws is { } w && baseWorkingSet is > 0 ? Math.Round(w / baseWorkingSet.Value, 3) : null,
                    ServerCpuPercentMean = double.IsNaN(cpu) ? null : Math.Round(cpu, 1),
                    GeneratorCpuPercentMean = double.IsNaN(generatorCpu) ? null : Math.Round(generatorCpu, 1),
                    RecoverySeconds = p.Role == PhaseRoles.Recovery ? Recovery(seconds, p, measured) : null,
                    Probe = d.Probe.Latency.TotalCount == 0 ? null : new ProbeStats(
                        d.Probe.Latency.TotalCount, d.Probe.WithinSlo, d.Probe.Refused, d.Probe.Errors, d.Probe.Slow,
                        Ms(d.Probe.Latency, 50), Ms(d.Probe.Latency, 99), Math.Round(d.Probe.Latency.GetMaxValue() / 1000.0, 3)),
                    Seconds = seconds,
                });
            }
        }
        return phases;
    }

    private List<StressSecond> BuildSeconds(PhasePlan p, PhaseData d, double measured)
    {
        var list = new List<StressSecond>();
        for (var k = 0; k < d.Seconds.Length && k < measured; k++)
        {
            var s = d.Seconds[k];
            var length = Math.Min(1, measured - k);
            var accepted = s.Accepted.TotalCount;
            var refused = s.Refused.TotalCount;
            double? acceptedPercentile = accepted > 0 ? Ms(s.Accepted, _percentile) : null;
            var failedPercent = s.Sent == 0 ? 0 : 100.0 * (refused + s.Errors) / s.Sent;
            var healthy = acceptedPercentile is { } v && _latency.Passes(v) && (_errors is null || _errors.Passes(failedPercent));
            list.Add(new StressSecond(
                Math.Round(p.StartSeconds + k, 3), Math.Round(length, 3), s.Sent,
                Math.Round(s.Sent / length, 1), Math.Round(s.Good / length, 1), Math.Round(refused / length, 1), Math.Round(s.Errors / length, 1),
                accepted,
                accepted > 0 ? Ms(s.Accepted, 50) : null, accepted > 0 ? Ms(s.Accepted, 95) : null, accepted > 0 ? Ms(s.Accepted, 99) : null,
                refused > 0 ? Ms(s.Refused, 99) : null,
                healthy));
        }
        return list;
    }

    /// <summary>Seconds from the phase's start to the first second after which every second is healthy; null if the last one isn't.</summary>
    private static double? Recovery(List<StressSecond> seconds, PhasePlan p, double measured)
    {
        if (seconds.Count == 0 || measured < p.DurationSeconds - 1e-6)
        {
            return null;
        }
        var k = seconds.Count;
        while (k > 0 && seconds[k - 1].Healthy)
        {
            k--;
        }
        return k == seconds.Count ? null : Math.Round(seconds[k].T - p.StartSeconds, 3);
    }

    private static double Ms(HistogramBase h, double percentile) => Math.Round(h.GetValueAtPercentile(percentile) / 1000.0, 3);

    private sealed class PhaseData(int seconds)
    {
        public long Sent;
        public long Good;
        public long Errors;
        public long Dropped;
        public long NoHealthyUpstream;
        public readonly LongHistogram Accepted = new(1, Highest, 3);
        public readonly LongHistogram Refused = new(1, Highest, 3);
        public readonly Dictionary<string, long> RefusedByKind = new(StringComparer.Ordinal);
        public readonly Dictionary<string, long> ErrorsByKind = new(StringComparer.Ordinal);
        public readonly SecondData[] Seconds = [.. Enumerable.Range(0, Math.Max(1, seconds)).Select(_ => new SecondData())];
        public readonly ProbeData Probe = new();
    }

    private sealed class ProbeData
    {
        public long WithinSlo;
        public long Refused;
        public long Errors;
        public long Slow;
        public readonly LongHistogram Latency = new(1, Highest, 3);
    }

    private sealed class SecondData
    {
        public long Sent;
        public long Good;
        public long Errors;
        public readonly LongHistogram Accepted = new(1, SecondHighest, 2);
        public readonly LongHistogram Refused = new(1, SecondHighest, 2);
    }
}
