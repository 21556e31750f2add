namespace Tally.Load.Stress;

/// <summary>What a phase is for: the base before overload, overload (multiplier above 1), the recovery after it, or plain load.</summary>
public static class PhaseRoles
{
    public const string Base = "base";
    public const string Overload = "overload";
    public const string Recovery = "recovery";
    public const string Load = "load";

    /// <summary>Phase 0 is the base; a multiplier above 1 is overload; the last phase, at or under 1 after an overload, is the recovery.</summary>
    public static string[] Assign(IReadOnlyList<double> multipliers)
    {
        ArgumentNullException.ThrowIfNull(multipliers);
        var roles = new string[multipliers.Count];
        for (var i = 0; i < roles.Length; i++)
        {
            roles[i] = i == 0 ? Base : multipliers[i] > 1 ? Overload : Load;
        }
        var last = roles.Length - 1;
        if (last > 0 && multipliers[last] <= 1 && multipliers.Take(last).Any(m => m > 1))
        {
            roles[last] = Recovery;
        }
        return roles;
    }
}

/// <summary>One second of a phase, by the (intended) send time of its requests. Latencies in ms, null when none.</summary>
public sealed record StressSecond(
    double T, double Seconds, long Sent, double OfferedRps, double GoodputRps, double RefusedRps, double ErrorsRps,
    long Accepted, double? AcceptedP50, double? AcceptedP95, double? AcceptedP99, double? RefusedP99, bool Healthy);

/// <summary>The figures of one phase; every request counts in the phase in which it was (meant to be) sent.</summary>
public sealed class StressPhase
{
    public int Index { get; init; }
    public required string Role { get; init; }
    public double Multiplier { get; init; }
    /// <summary>Arrivals per second (open model) or users (closed model).</summary>
    public double Target { get; init; }
    public double StartSeconds { get; init; }
    public double DurationSeconds { get; init; }
    /// <summary>Less than the duration when the run was interrupted; 0 when the phase never started.</summary>
    public double MeasuredSeconds { get; init; }
    public long Sent { get; init; }
    public long Dropped { get; init; }
    /// <summary>Requests actually sent per second (dropped arrivals are not offered).</summary>
    public double OfferedRps { get; init; }
    /// <summary>Successful answers (2xx), whatever their latency.</summary>
    public long Accepted { get; init; }
    /// <summary>Successful answers within the SLO latency.</summary>
    public long Good { get; init; }
    public double GoodputRps { get; init; }
    /// <summary>Goodput over the capacity's request rate.</summary>
    public double GoodputFraction { get; init; }
    /// <summary>503 or 429 answers with Retry-After (NO_HEALTHY_UPSTREAM excepted: that counts as an error).</summary>
    public long Refused { get; init; }
    public double RefusedRps { get; init; }
    public IReadOnlyDictionary<string, long> RefusedByKind { get; init; } = new Dictionary<string, long>();
    public LatencyStats RefusedLatency { get; init; } = new();
    public LatencyStats AcceptedLatency { get; init; } = new();
    /// <summary>Everything else that failed: other statuses, timeouts, connection errors, unfinished requests.</summary>
    public long Errors { get; init; }
    public double ErrorRatePercent { get; init; }
    public IReadOnlyDictionary<string, long> ErrorsByKind { get; init; } = new Dictionary<string, long>();
    public long NoHealthyUpstream { get; init; }
    public double? WorkingSetMbMax { get; init; }
    /// <summary>This phase's maximum working set over the base phase's.</summary>
    public double? MemoryRatio { get; init; }
    public double? ServerCpuPercentMean { get; init; }
    /// <summary>The generator's own CPU during the phase, in % of the machine: on a shared machine, what it takes from the server.</summary>
    public double? GeneratorCpuPercentMean { get; init; }
    /// <summary>Recovery phase only: seconds from its start until every later second is healthy; null when it never was.</summary>
    public double? RecoverySeconds { get; init; }
    public IReadOnlyList<StressSecond> Seconds { get; init; } = [];
    /// <summary>What the single user who sends one request at a time saw in this phase; null when the probe was off.</summary>
    public ProbeStats? Probe { get; init; }
}

/// <summary>
/// The requests of one user who sends one request at a time, on a connection of its own, during a
/// phase: answered with success within the SLO latency, refused (503/429 with Retry-After), failed
/// otherwise, and how many of all of them took longer than the SLO latency; latencies in ms.
/// </summary>
public sealed record ProbeStats(long Requests, long WithinSlo, long Refused, long Errors, long Slow, double P50, double P99, double Max);

public sealed record ExpectationVerdict(string Expression, int? Phase, double? Multiplier, double? Actual, bool Pass, string? Note);

/// <summary>The stress command's own result, under "stress" in the JSON.</summary>
public sealed class StressResult
{
    public required string Model { get; init; }
    /// <summary>Arrivals per second (open model) or users (closed model).</summary>
    public double Capacity { get; init; }
    public required string CapacityUnit { get; init; }
    /// <summary>The request rate goodput is compared with: the capacity itself (open), or the users' rate at capacity (closed).</summary>
    public double CapacityRps { get; init; }
    /// <summary>"given" (--capacity), "searched" (the capacity search), or in the closed model with --capacity "given; req/s estimated from the base phase".</summary>
    public required string CapacitySource { get; init; }
    public required string Slo { get; init; }
    public double SloLatencyMs { get; init; }
    public required string SloLatencyRule { get; init; }
    public double PhaseDurationSeconds { get; init; }
    public double ThinkSeconds { get; init; }
    public bool Interrupted { get; init; }
    public IReadOnlyList<StressPhase> Phases { get; init; } = [];
    public double? RecoverySeconds { get; init; }
    public long NoHealthyUpstream { get; init; }
    public IReadOnlyList<ExpectationVerdict> Expectations { get; set; } = [];
    public bool ExpectationsPassed { get; set; } = true;
}
