namespace Tally.Load.Cli;

/// <summary>A small "--name value" / "--flag" parser; every option read is checked off, leftovers are errors.</summary>
public sealed class Arguments
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    /// <param name="positionals">How many leading arguments that are not options this command takes (compare's two files).</param>
    public Arguments(IEnumerable<string> args, int positionals = 0)
    {
        var list = args.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                if (i < positionals && i == Positionals.Count)
                {
                    Positionals.Add(a);
                    continue;
                }
                throw new ArgumentException($"unexpected argument '{a}'");
            }
            var eq = a.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                _options[a[2..eq]] = a[(eq + 1)..];
            }
            else if (i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                _options[a[2..]] = list[++i];
            }
            else
            {
                _options[a[2..]] = null;
            }
        }
    }

    /// <summary>The leading arguments that are not options, in order.</summary>
    public List<string> Positionals { get; } = [];

    public bool Has(string name)
    {
        _used.Add(name);
        return _options.ContainsKey(name);
    }

    public bool Flag(string name) => Has(name) && _options[name] is null or "true";

    public string? String(string name) => Has(name) ? _options[name] ?? throw new ArgumentException($"--{name} needs a value") : null;

    public string String(string name, string fallback) => String(name) ?? fallback;

    public int Int(string name, int fallback) =>
        String(name) is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : fallback;

    public double Double(string name, double fallback) =>
        String(name) is { } s ? double.Parse(s, CultureInfo.InvariantCulture) : fallback;

    public TimeSpan Duration(string name, TimeSpan fallback) =>
        String(name) is { } s ? Durations.Parse(s) : fallback;

    public void EnsureAllUsed()
    {
        var unknown = _options.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"unknown option(s): {string.Join(", ", unknown.Select(u => "--" + u))}");
        }
    }
}
