namespace Tally.Load.Capacity;

/// <summary>One measured step of a capacity search.</summary>
public sealed record CapacityStep(
    int Index, double Target, double AchievedRps, double P50, double P95, double P99, double Max, double Mean,
    double ErrorRatePercent, long Dropped, bool Pass, string Reason)
{
    /// <summary>The server's mean CPU during the measuring window, from its /metrics (null when not reachable).</summary>
    public double? ServerCpuPercent { get; init; }
    /// <summary>The deepest the server's bus queue got during the measuring window.</summary>
    public double? BusQueueDepthMax { get; init; }
}

public sealed class CapacityResult
{
    public required string Mode { get; init; }
    public required IReadOnlyList<CapacityStep> Steps { get; init; }
    public CapacityStep? Knee { get; init; }
    public CapacityStep? FirstFail { get; init; }
    /// <summary>The highest sustainable request rate (the knee's achieved rate).</summary>
    public double MaxSustainableRps { get; init; }
    /// <summary>Little's law: requests in flight at the knee = rate × mean latency.</summary>
    public double Concurrency { get; init; }
    public double ThinkTimeSeconds { get; init; }
    /// <summary>Users with <see cref="ThinkTimeSeconds"/> between requests: rate × (mean latency + think).</summary>
    public double EquivalentUsers { get; init; }
    /// <summary>Stopped by Ctrl+C: the steps are those completed before it, the step in progress is dropped.</summary>
    public bool Interrupted { get; init; }
}

/// <summary>
/// Exponential steps until a step fails, then a binary search between the last passing and
/// the first failing load, until they are within <c>precision</c> of each other. A failing step
/// is measured once more before the search accepts it: a real overload fails twice, while one
/// noisy window (a GC, the machine busy elsewhere) must not end the search below the true limit.
/// </summary>
public static class CapacitySearch
{
    public static async Task<CapacityResult> SearchAsync(
        string mode, Func<int, double, Task<CapacityStep>> runStep,
        double start, double factor, double max, double precision, int maxSteps, bool integral, double thinkSeconds,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(runStep);
        var steps = new List<CapacityStep>();
        CapacityStep? pass, fail;
        var interrupted = false;
        try
        {
            (pass, fail) = await SearchStepsAsync(runStep, steps, start, factor, max, precision, maxSteps, integral, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            interrupted = true;
            pass = steps.Where(s => s.Pass).MaxBy(s => s.Target);
            fail = steps.Where(s => !s.Pass && s.Target > (pass?.Target ?? double.MinValue)).MinBy(s => s.Target);
        }
        interrupted |= ct.IsCancellationRequested;
        var rps = pass?.AchievedRps ?? 0;
        var meanSeconds = (pass?.Mean ?? 0) / 1000;
        return new CapacityResult
        {
            Mode = mode,
            Steps = steps,
            Knee = pass,
            FirstFail = fail,
            MaxSustainableRps = Math.Round(rps, 1),
            Concurrency = Math.Round(rps * meanSeconds, 2),
            ThinkTimeSeconds = thinkSeconds,
            EquivalentUsers = Math.Round(rps * (meanSeconds + thinkSeconds), 1),
            Interrupted = interrupted,
        };
    }

    /// <summary>Runs the steps into <paramref name="steps"/>; returns the highest passing and the lowest failing one.</summary>
    private static async Task<(CapacityStep? Pass, CapacityStep? Fail)> SearchStepsAsync(
        Func<int, double, Task<CapacityStep>> runStep, List<CapacityStep> steps,
        double start, double factor, double max, double precision, int maxSteps, bool integral, CancellationToken ct)
    {
        CapacityStep? pass = null, fail = null;
        var x = start;
        while (steps.Count < maxSteps && !ct.IsCancellationRequested)
        {
            var step = await MeasureAsync(runStep, steps, x, maxSteps).ConfigureAwait(false);
            if (!step.Pass)
            {
                fail = step;
                break;
            }
            pass = step;
            if (x >= max)
            {
                break;
            }
            x = Math.Min(max, integral ? Math.Ceiling(x * factor) : x * factor);
        }
        while (pass is not null && fail is not null && steps.Count < maxSteps && !ct.IsCancellationRequested
               && (fail.Target - pass.Target) / pass.Target > precision)
        {
            var mid = (pass.Target + fail.Target) / 2;
            if (integral)
            {
                mid = Math.Round(mid);
                if (mid <= pass.Target || mid >= fail.Target)
                {
                    break;
                }
            }
            var step = await MeasureAsync(runStep, steps, mid, maxSteps).ConfigureAwait(false);
            if (step.Pass)
            {
                pass = step;
            }
            else
            {
                fail = step;
            }
        }
        return (pass, fail);
    }

    private static async Task<CapacityStep> MeasureAsync(
        Func<int, double, Task<CapacityStep>> runStep, List<CapacityStep> steps, double load, int maxSteps)
    {
        var step = await runStep(steps.Count, load).ConfigureAwait(false);
        steps.Add(step);
        if (step.Pass || steps.Count >= maxSteps)
        {
            return step;
        }
        var again = await runStep(steps.Count, load).ConfigureAwait(false);
        steps.Add(again);
        return again.Pass ? again : step;
    }
}
