namespace Tally.Load.Engine;

/// <summary>
/// A piecewise-linear target over time: requests per second (open model) or virtual users
/// (closed model). Stages ramp linearly from the previous target to their own, as in k6.
/// </summary>
public sealed class LoadProfile
{
    private readonly Segment[] _segments;

    private LoadProfile(Segment[] segments) => _segments = segments;

    public TimeSpan Duration => TimeSpan.FromSeconds(_segments.Length == 0 ? 0 : _segments[^1].End);

    public double MaxTarget => _segments.Length == 0 ? 0 : _segments.Max(s => Math.Max(s.From, s.To));

    /// <summary>The profile as (duration in seconds, target at its start, target at its end) per stage: <see cref="FromStages"/> rebuilds it.</summary>
    public IReadOnlyList<double[]> Stages => [.. _segments.Select(s => new[] { s.End - s.Start, s.From, s.To })];

    public static LoadProfile FromStages(IReadOnlyList<double[]> stages)
    {
        ArgumentNullException.ThrowIfNull(stages);
        var segments = new Segment[stages.Count];
        double start = 0, before = 0;
        for (var i = 0; i < stages.Count; i++)
        {
            if (stages[i] is not [var duration, var from, var to] || !(duration > 0) || !(from >= 0) || !(to >= 0) || !double.IsFinite(duration + from + to))
            {
                throw new FormatException("a stage is [duration > 0, from >= 0, to >= 0]");
            }
            segments[i] = new Segment(start, start + duration, from, to, before);
            before += segments[i].Count;
            start += duration;
        }
        if (segments.Length == 0)
        {
            throw new FormatException("no stages");
        }
        return new LoadProfile(segments);
    }

    public static LoadProfile Constant(double target, TimeSpan duration) =>
        new([new Segment(0, duration.TotalSeconds, target, target, 0)]);

    /// <summary>Constant targets one after the other, each stepping straight to its own (stress phases).</summary>
    public static LoadProfile Steps(IReadOnlyList<(double Target, TimeSpan Duration)> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        var segments = new Segment[steps.Count];
        double start = 0, before = 0;
        for (var i = 0; i < steps.Count; i++)
        {
            var (target, duration) = steps[i];
            if (duration <= TimeSpan.Zero || target < 0)
            {
                throw new ArgumentException("a step needs a positive duration and a target >= 0");
            }
            segments[i] = new Segment(start, start + duration.TotalSeconds, target, target, before);
            before += segments[i].Count;
            start += duration.TotalSeconds;
        }
        if (segments.Length == 0)
        {
            throw new ArgumentException("no steps");
        }
        return new LoadProfile(segments);
    }

    /// <summary>"30s:100,1m:500,30s:0": each stage is duration:target, ramping from <paramref name="initial"/>.</summary>
    public static LoadProfile ParseStages(string stages, double initial = 0)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stages);
        var segments = new List<Segment>();
        double start = 0, from = initial, cumulative = 0;
        foreach (var part in stages.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = part.LastIndexOf(':');
            if (colon <= 0)
            {
                throw new FormatException($"stage '{part}' is not duration:target (e.g. 30s:100)");
            }
            var seconds = Durations.Parse(part[..colon]).TotalSeconds;
            var to = double.Parse(part[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
            if (seconds <= 0 || to < 0)
            {
                throw new FormatException($"stage '{part}' needs a positive duration and a target >= 0");
            }
            var segment = new Segment(start, start + seconds, from, to, cumulative);
            segments.Add(segment);
            cumulative += segment.Count;
            start += seconds;
            from = to;
        }
        if (segments.Count == 0)
        {
            throw new FormatException("--stages is empty");
        }
        return new LoadProfile([.. segments]);
    }

    /// <summary>The target at <paramref name="t"/> seconds.</summary>
    public double ValueAt(double t)
    {
        foreach (var s in _segments)
        {
            if (t < s.End)
            {
                return s.From + (s.To - s.From) * Math.Max(0, t - s.Start) / (s.End - s.Start);
            }
        }
        return _segments.Length == 0 ? 0 : _segments[^1].To;
    }

    /// <summary>Arrivals due by <paramref name="t"/> seconds: the integral of the rate.</summary>
    public double CountAt(double t)
    {
        foreach (var s in _segments)
        {
            if (t < s.End)
            {
                var x = Math.Max(0, t - s.Start);
                return s.Before + s.From * x + (s.To - s.From) * x * x / (2 * (s.End - s.Start));
            }
        }
        return _segments.Length == 0 ? 0 : _segments[^1].Before + _segments[^1].Count;
    }

    /// <summary>The intended time, in seconds, of the <paramref name="k"/>-th arrival (1-based).</summary>
    public double TimeOfArrival(long k)
    {
        foreach (var s in _segments)
        {
            if (k <= s.Before + s.Count)
            {
                var rem = k - s.Before;
                var d = s.End - s.Start;
                var a = (s.To - s.From) / (2 * d);
                double x;
                if (Math.Abs(a) < 1e-12)
                {
                    x = s.From <= 0 ? d : rem / s.From;
                }
                else
                {
                    var disc = Math.Max(0, s.From * s.From + 4 * a * rem);
                    x = (-s.From + Math.Sqrt(disc)) / (2 * a);
                }
                return s.Start + Math.Clamp(x, 0, d);
            }
        }
        return Duration.TotalSeconds;
    }

    private readonly record struct Segment(double Start, double End, double From, double To, double Before)
    {
        public double Count => (From + To) / 2 * (End - Start);
    }
}
