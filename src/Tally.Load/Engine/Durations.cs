using System.Text.RegularExpressions;

namespace Tally.Load.Engine;

/// <summary>Parses "500ms", "30s", "1m", "2m30s", "1h" and plain seconds.</summary>
public static partial class Durations
{
    public static TimeSpan Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        var s = text.Trim();
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain))
        {
            return TimeSpan.FromSeconds(plain);
        }
        var matches = Part().Matches(s);
        if (matches.Count == 0 || string.Concat(matches.Select(m => m.Value)) != s)
        {
            throw new FormatException($"'{text}' is not a duration (e.g. 500ms, 30s, 1m, 2m30s)");
        }
        var total = TimeSpan.Zero;
        foreach (Match m in matches)
        {
            var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch
            {
                "us" => TimeSpan.FromMicroseconds(value),
                "ms" => TimeSpan.FromMilliseconds(value),
                "s" => TimeSpan.FromSeconds(value),
                "m" => TimeSpan.FromMinutes(value),
                _ => TimeSpan.FromHours(value),
            };
        }
        return total;
    }

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(us|ms|s|m|h)")]
    private static partial Regex Part();
}
