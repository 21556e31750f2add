using System.Text.RegularExpressions;

namespace Tally.Load.Engine;

/// <summary>The comma-separated rule lists of the command line (--slo, --expect, --fail-on).</summary>
public static class RuleList
{
    /// <summary>
    /// Each rule of <paramref name="text"/>, matched whole by <paramref name="pattern"/> and made by <paramref name="make"/>;
    /// a rule that does not match is refused with the exception <paramref name="refuse"/> makes of it.
    /// </summary>
    public static List<T> Parse<T>(string text, Regex pattern, Func<string, Exception> refuse, Func<string, Match, T> make)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(refuse);
        ArgumentNullException.ThrowIfNull(make);
        var rules = new List<T>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var match = pattern.Match(part);
            rules.Add(match.Success ? make(part, match) : throw refuse(part));
        }
        return rules;
    }
}
