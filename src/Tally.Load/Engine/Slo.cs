using System.Text.RegularExpressions;

namespace Tally.Load.Engine;

/// <summary>One threshold such as p95&lt;300ms, max&lt;2s, errors&lt;1% or rps&gt;100.</summary>
public sealed record SloRule(string Expression, string Metric, string Op, double Limit)
{
    public double? Actual(Summary s) => Metric switch
    {
        "errors" => s.ErrorRatePercent,
        "rps" => s.Rps,
        "dropped" => s.Dropped,
        "max" => s.Latency.Max,
        "mean" => s.Latency.Mean,
        _ when Metric.StartsWith('p') => s.Latency.At(double.Parse(Metric[1..], CultureInfo.InvariantCulture)),
        _ => null,
    };

    public bool Passes(double actual) => Op switch
    {
        "<" => actual < Limit,
        "<=" => actual <= Limit,
        ">" => actual > Limit,
        _ => actual >= Limit,
    };
}

public sealed record SloVerdict(string Expression, double Actual, bool Pass);

public sealed partial class Slo
{
    public IReadOnlyList<SloRule> Rules { get; }

    public string Text => string.Join(",", Rules.Select(r => r.Expression));

    private Slo(IReadOnlyList<SloRule> rules) => Rules = rules;

    public static Slo Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        return new Slo(RuleList.Parse(text, Rule(), part => new FormatException($"threshold '{part}' is not like p95<300ms, errors<1% or rps>100"), (part, m) =>
        {
            var metric = m.Groups[1].Value.ToLowerInvariant();
            var value = double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
            var unit = m.Groups[4].Value;
            var isLatency = metric is "max" or "mean" || metric.StartsWith('p');
            if (isLatency)
            {
                // Latency limits are held in milliseconds; a bare number means milliseconds.
                value = unit switch { "us" => value / 1000, "s" => value * 1000, _ => value };
            }
            else if (metric is not ("errors" or "rps" or "dropped"))
            {
                throw new FormatException($"unknown metric '{metric}' in '{part}' (use pNN, max, mean, errors, rps, dropped)");
            }
            return new SloRule(part, metric, m.Groups[2].Value, value);
        }));
    }

    public IReadOnlyList<SloVerdict> Evaluate(Summary summary) =>
        [.. Rules.Select(r => r.Actual(summary) is { } a ? new SloVerdict(r.Expression, a, r.Passes(a)) : new SloVerdict(r.Expression, double.NaN, false))];

    [GeneratedRegex(@"^\s*(p\d+(?:\.\d+)?|max|mean|errors|rps|dropped)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(us|ms|s|%)?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex Rule();
}
