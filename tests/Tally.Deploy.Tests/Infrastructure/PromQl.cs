using System.Text.RegularExpressions;
using YamlDotNet.Serialization;

namespace Tally.Deploy.Tests.Infrastructure;

/// <summary>The metric names a PromQL expression reads, with recording rules resolved to the metrics their expressions read.</summary>
internal static partial class PromQl
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan",
    };

    public static IReadOnlyDictionary<string, string> RecordingRules(string rulesYaml)
    {
        var document = new DeserializerBuilder().Build().Deserialize<Dictionary<string, List<Dictionary<string, object>>>>(rulesYaml);
        var rules = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in document["groups"])
        {
            foreach (var rule in ((List<object>)group["rules"]).Cast<Dictionary<object, object>>())
            {
                if (rule.TryGetValue("record", out var name))
                {
                    rules[(string)name] = (string)rule["expr"];
                }
            }
        }
        return rules;
    }

    /// <summary>Names of series the expression selects (functions, keywords, labels, strings, durations and Grafana variables excluded).</summary>
    public static IEnumerable<string> Selectors(string expression)
    {
        var text = QuotedString().Replace(expression, "\"\"");
        text = LabelMatchers().Replace(text, " ");
        text = RangeOrSubquery().Replace(text, " ");
        text = GroupingClause().Replace(text, " ");
        text = GrafanaVariable().Replace(text, " ");
        foreach (Match match in Identifier().Matches(text))
        {
            var name = match.Groups[1].Value;
            var isCall = match.Groups[2].Value == "(";
            if (!isCall && !Keywords.Contains(name.ToLowerInvariant()))
            {
                yield return name;
            }
        }
    }

    /// <summary>The raw metrics behind an expression: recording rules (names with ':') replaced by what they read, recursively.</summary>
    public static IEnumerable<string> RawMetrics(string expression, IReadOnlyDictionary<string, string> rules, ISet<string>? unknownRules = null)
    {
        foreach (var name in Selectors(expression))
        {
            if (name.Contains(':', StringComparison.Ordinal))
            {
                if (rules.TryGetValue(name, out var recorded))
                {
                    foreach (var inner in RawMetrics(recorded, rules, unknownRules))
                    {
                        yield return inner;
                    }
                }
                else
                {
                    unknownRules?.Add(name);
                }
            }
            else
            {
                yield return name;
            }
        }
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex QuotedString();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex LabelMatchers();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex RangeOrSubquery();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex GroupingClause();

    [GeneratedRegex(@"\$\{?\w+\}?")]
    private static partial Regex GrafanaVariable();

    [GeneratedRegex(@"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\(?)")]
    private static partial Regex Identifier();
}
