using System.Text.RegularExpressions;

namespace Tally.Load.Stress;

/// <summary>One expectation of a stress run, such as goodput>=0.9, goodput@5>=0.75, accepted-p99&lt;300ms or recovery&lt;5s.</summary>
public sealed record Expectation(string Expression, string Metric, double? Multiplier, string Op, double Limit)
{
    public bool Passes(double actual) => Op switch
    {
        "<" => actual < Limit,
        "<=" => actual <= Limit,
        ">" => actual > Limit,
        _ => actual >= Limit,
    };

    /// <summary>The percentile of accepted-pNN and refused-pNN.</summary>
    public double Percentile => double.Parse(Metric[(Metric.IndexOf("-p", StringComparison.Ordinal) + 2)..], CultureInfo.InvariantCulture);
}

/// <summary>
/// --expect: comma-separated <c>metric[@multiplier] op value[unit]</c>, each judged per phase.
/// goodput (a fraction of capacity, or %), accepted-pNN and refused-pNN (ms, s or us) apply to
/// the overload phases (multiplier above 1); errors (% of requests sent) to every phase; memory
/// (max working set over the base phase's) to every phase after the base; @M narrows any of these
/// to the phases of multiplier M. recovery (s or ms) applies to the recovery phase, and
/// no-healthy-upstream (a count) to the whole run (or, with @M, to the phases of multiplier M).
/// probe-max (ms, s or us), in the overload phases, is the slowest answer, success or refusal, that
/// the single user sending one request at a time waited for.
/// </summary>
public static partial class Expectations
{
    public static IReadOnlyList<Expectation> Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        var list = RuleList.Parse(text, Rule(), part => new FormatException($"expectation '{part}' is not like goodput>=0.9, goodput@5>=0.75, accepted-p99<300ms, refused-p99<20ms, recovery<5s, memory<=1.5, errors<1%, no-healthy-upstream<=0 or probe-max<=300ms"), (part, m) =>
        {
            var metric = m.Groups[1].Value.ToLowerInvariant();
            double? multiplier = m.Groups[2].Success ? double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : null;
            var value = double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture);
            var unit = m.Groups[5].Value.ToLowerInvariant();
            value = (metric, unit) switch
            {
                ("goodput", "") => value,
                ("goodput", "%") => value / 100,
                (_, "us") when metric.Contains("-p", StringComparison.Ordinal) => value / 1000,
                (_, "" or "ms") when metric.Contains("-p", StringComparison.Ordinal) => value,
                (_, "s") when metric.Contains("-p", StringComparison.Ordinal) => value * 1000,
                ("recovery", "" or "s") => value,
                ("recovery", "ms") => value / 1000,
                ("memory", "" or "x") => value,
                ("errors", "" or "%") => value,
                ("no-healthy-upstream", "") => value,
                ("probe-max", "" or "ms") => value,
                ("probe-max", "s") => value * 1000,
                ("probe-max", "us") => value / 1000,
                _ => throw new FormatException($"'{unit}' is not a unit for {metric} in '{part}'"),
            };
            if (metric == "recovery" && multiplier is not null)
            {
                throw new FormatException($"recovery applies to the recovery phase: '{part}' can't name a multiplier");
            }
            return new Expectation(part, metric, multiplier, m.Groups[3].Value, value);
        });
        if (list.Count == 0)
        {
            throw new FormatException("--expect is empty");
        }
        return list;
    }

    /// <summary>Fails, before anything runs, on an expectation that no phase of the plan could be judged by.</summary>
    public static void Validate(IReadOnlyList<Expectation> expectations, IReadOnlyList<double> multipliers, IReadOnlyList<string> roles)
    {
        ArgumentNullException.ThrowIfNull(expectations);
        ArgumentNullException.ThrowIfNull(multipliers);
        ArgumentNullException.ThrowIfNull(roles);
        foreach (var e in expectations)
        {
            if (e.Multiplier is { } x && !multipliers.Any(m => Same(m, x)))
            {
                throw new ArgumentException($"'{e.Expression}': no phase runs at {x.ToString(CultureInfo.InvariantCulture)}× (phases {string.Join(",", multipliers.Select(m => m.ToString(CultureInfo.InvariantCulture)))})");
            }
            if (e.Metric == "recovery" && !roles.Contains(PhaseRoles.Recovery))
            {
                throw new ArgumentException($"'{e.Expression}': the phases have no recovery phase (the last one, at 1× or less, after an overload)");
            }
            var judgedInOverload = e.Metric is "goodput" or "probe-max" || e.Metric.StartsWith("accepted-", StringComparison.Ordinal) || e.Metric.StartsWith("refused-", StringComparison.Ordinal);
            if (judgedInOverload && e.Multiplier is null && !roles.Contains(PhaseRoles.Overload))
            {
                throw new ArgumentException($"'{e.Expression}': the phases have no overload phase (multiplier above 1)");
            }
        }
    }

    private static bool Same(double a, double b) => Math.Abs(a - b) < 1e-9;

    public static IReadOnlyList<ExpectationVerdict> Evaluate(IReadOnlyList<Expectation> expectations, IReadOnlyList<StressPhase> phases)
    {
        ArgumentNullException.ThrowIfNull(expectations);
        ArgumentNullException.ThrowIfNull(phases);
        var verdicts = new List<ExpectationVerdict>();
        foreach (var e in expectations)
        {
            IEnumerable<StressPhase> scope = e.Multiplier is { } x ? phases.Where(p => Same(p.Multiplier, x)) : e.Metric switch
            {
                "errors" or "no-healthy-upstream" => phases,
                "memory" => phases.Where(p => p.Role != PhaseRoles.Base),
                "recovery" => phases.Where(p => p.Role == PhaseRoles.Recovery),
                _ => phases.Where(p => p.Role == PhaseRoles.Overload),
            };
            var judged = scope.ToList();
            if (e.Metric == "no-healthy-upstream")
            {
                double total = judged.Sum(p => p.NoHealthyUpstream);
                verdicts.Add(new ExpectationVerdict(e.Expression, null, e.Multiplier, total, e.Passes(total), null));
                continue;
            }
            foreach (var p in judged)
            {
                verdicts.Add(Judge(e, p));
            }
        }
        return verdicts;
    }

    private static ExpectationVerdict Judge(Expectation e, StressPhase p)
    {
        ExpectationVerdict V(double? actual, bool pass, string? note = null) => new(e.Expression, p.Index, p.Multiplier, actual is { } a ? Math.Round(a, 3) : null, pass, note);
        if (p.MeasuredSeconds <= 0)
        {
            return V(null, false, "phase not measured (interrupted)");
        }
        switch (e.Metric)
        {
            case "goodput":
                return V(p.GoodputFraction, e.Passes(p.GoodputFraction));
            case "errors":
                return V(p.ErrorRatePercent, e.Passes(p.ErrorRatePercent));
            case "memory":
                return p.MemoryRatio is { } ratio ? V(ratio, e.Passes(ratio)) : V(null, false, "no working set from the server's /metrics");
            case "probe-max":
                return p.Probe is { Requests: > 0 } probe ? V(probe.Max, e.Passes(probe.Max)) : V(null, false, "the one-at-a-time user sent nothing (--probe-think off?)");
            case "recovery":
                return p.RecoverySeconds is { } r ? V(r, e.Passes(r)) : V(null, false, "not recovered by the end of the phase");
            default:
                if (e.Metric.StartsWith("accepted-", StringComparison.Ordinal))
                {
                    return p.Accepted > 0 ? V(p.AcceptedLatency.At(e.Percentile), e.Passes(p.AcceptedLatency.At(e.Percentile))) : V(null, false, "nothing was accepted");
                }
                // Nothing refused: no refusal was slow.
                return p.Refused > 0 ? V(p.RefusedLatency.At(e.Percentile), e.Passes(p.RefusedLatency.At(e.Percentile))) : V(null, true, "none refused");
        }
    }

    [GeneratedRegex(@"^\s*(goodput|accepted-p\d+(?:\.\d+)?|refused-p\d+(?:\.\d+)?|recovery|memory|errors|no-healthy-upstream|probe-max)(?:@(\d+(?:\.\d+)?)x?)?\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(us|ms|s|%|x)?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex Rule();
}
