namespace Tally.Load.ScenarioFiles;

/// <summary>A value at run time: text, and whether it is a JSON literal (a number, true, false, an object) rather than a string.</summary>
public readonly record struct Value(string Text, bool Raw)
{
    public static Value FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => new Value(e.GetString()!, false),
        _ => new Value(e.GetRawText(), true),
    };
}

internal enum SegmentKind { Literal, User, Peer, Capture, Uuid, Random, Sequence, Vu, Iteration }

/// <summary>One piece of a template: literal text, or a source of a value resolved when the file was compiled.</summary>
/// <param name="Escape">A value in a URL: percent-encoded when rendered, so that a '/', '?', space or non-ASCII letter stays inside its path segment or query value.</param>
internal readonly record struct Segment(SegmentKind Kind, string Text = "", int Index = 0, long Min = 0, long Max = 0, bool Raw = false, bool Escape = false);

/// <summary>What a template needs from the virtual user it renders for.</summary>
internal interface ITemplateContext
{
    Value[] User { get; }
    Value[] Peer { get; }
    Value[] Captures { get; }
    int Vu { get; }
    long Iteration { get; }
    Random Random { get; }
    StringBuilder Builder { get; }
    long NextSequence();
}

/// <summary>
/// A string with <c>{{ ... }}</c> placeholders, split once into literal and value segments, so that
/// rendering one is a walk over an array: no parsing, no lookup by name.
/// </summary>
internal sealed class Template(Segment[] segments, string source)
{
    private readonly Segment[] _segments = segments;

    public string Source { get; } = source;

    public bool IsConstant => _segments.All(s => s.Kind == SegmentKind.Literal);

    /// <summary>The whole template is one placeholder: its value keeps its JSON kind (a number stays a number).</summary>
    public bool IsSingleValue => _segments.Length == 1 && _segments[0].Kind != SegmentKind.Literal;

    public IEnumerable<Segment> Segments => _segments;

    /// <summary>A constant template's text (and whether it is a JSON literal: a numeric variable alone).</summary>
    public Value Literal => _segments.Length == 1 ? new Value(_segments[0].Text, _segments[0].Raw) : new Value(Source, false);

    /// <summary>The whole template is random(MIN, MAX): a body writes the number without making a string of it.</summary>
    public bool IsRandom(out long min, out long max)
    {
        var random = _segments.Length == 1 && _segments[0].Kind == SegmentKind.Random;
        (min, max) = random ? (_segments[0].Min, _segments[0].Max) : (0, 0);
        return random;
    }

    public Value RenderValue(ITemplateContext c)
    {
        if (_segments.Length == 1)
        {
            return Escaped(_segments[0], Resolve(_segments[0], c));
        }
        var b = c.Builder;
        b.Clear();
        foreach (var s in _segments)
        {
            if (s.Kind == SegmentKind.Random)
            {
                b.Append(c.Random.NextInt64(s.Min, s.Max + 1));
            }
            else
            {
                b.Append(Escaped(s, Resolve(s, c)).Text);
            }
        }
        return new Value(b.ToString(), false);
    }

    public string Render(ITemplateContext c) => RenderValue(c).Text;

    private static Value Escaped(in Segment s, Value v) => s.Escape ? new Value(Uri.EscapeDataString(v.Text), false) : v;

    private static Value Resolve(in Segment s, ITemplateContext c) => s.Kind switch
    {
        SegmentKind.Literal => new Value(s.Text, s.Raw),
        SegmentKind.User => c.User[s.Index],
        SegmentKind.Peer => c.Peer[s.Index],
        SegmentKind.Capture => c.Captures[s.Index],
        SegmentKind.Uuid => new Value(Guid.NewGuid().ToString(), false),
        SegmentKind.Random => new Value(c.Random.NextInt64(s.Min, s.Max + 1).ToString(CultureInfo.InvariantCulture), true),
        SegmentKind.Sequence => new Value(c.NextSequence().ToString(CultureInfo.InvariantCulture), true),
        SegmentKind.Vu => new Value(c.Vu.ToString(CultureInfo.InvariantCulture), true),
        _ => new Value(c.Iteration.ToString(CultureInfo.InvariantCulture), true),
    };
}

/// <summary>The names a template may use, and how each resolves.</summary>
internal sealed class Scope
{
    public required IReadOnlyDictionary<string, Value> Variables { get; init; }
    public required IReadOnlyList<string> Columns { get; init; }
    /// <summary>Captures made by earlier steps of the same flow (or, in data setup, of the same row).</summary>
    public required IReadOnlyList<string> Captures { get; init; }
    public bool UsesPeer { get; set; }
}

/// <summary>Compiles <c>{{ expression }}</c> templates against a scope; a name that can't resolve is an error at its line.</summary>
internal static class TemplateCompiler
{
    public const string Help = "user.FIELD, peer.FIELD, a variable, a capture of an earlier step, vu, iteration, uuid(), seq(), random(MIN, MAX)";

    /// <param name="url">The template is a URL's path and query: every value is percent-encoded, the literal text is not.</param>
    public static Template Compile(string text, Scope scope, Func<string, Exception> error, bool url = false)
    {
        var segments = new List<Segment>();
        var literal = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            var open = text.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0)
            {
                literal.Append(text, i, text.Length - i);
                break;
            }
            literal.Append(text, i, open - i);
            var close = text.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0)
            {
                throw error($"'{{{{' without a closing '}}}}' in \"{text}\"");
            }
            var expression = text[(open + 2)..close].Trim();
            var segment = Expression(expression, scope, error);
            if (segment.Kind == SegmentKind.Literal)
            {
                literal.Append(url ? Uri.EscapeDataString(segment.Text) : segment.Text);
            }
            else
            {
                if (literal.Length > 0)
                {
                    segments.Add(new Segment(SegmentKind.Literal, literal.ToString()));
                    literal.Clear();
                }
                segments.Add(segment with { Escape = url });
            }
            i = close + 2;
        }
        if (literal.Length > 0 || segments.Count == 0)
        {
            // A template that is one variable keeps that variable's JSON kind.
            var single = segments.Count == 0 && text.StartsWith("{{", StringComparison.Ordinal) && text.EndsWith("}}", StringComparison.Ordinal)
                && text.IndexOf("{{", 2, StringComparison.Ordinal) < 0 && scope.Variables.TryGetValue(text[2..^2].Trim(), out var v) && v.Raw;
            segments.Add(new Segment(SegmentKind.Literal, literal.ToString(), Raw: single));
        }
        return new Template([.. segments], text);
    }

    private static Segment Expression(string e, Scope scope, Func<string, Exception> error)
    {
        if (e.StartsWith("user.", StringComparison.Ordinal) || e.StartsWith("peer.", StringComparison.Ordinal))
        {
            var field = e[5..];
            var column = IndexOf(scope.Columns, field);
            if (column < 0)
            {
                throw error($"{{{{{e}}}}}: the data has no field '{field}' (it has: {(scope.Columns.Count == 0 ? "no data file" : string.Join(", ", scope.Columns))})");
            }
            var peer = e[0] == 'p';
            scope.UsesPeer |= peer;
            return new Segment(peer ? SegmentKind.Peer : SegmentKind.User, Index: column);
        }
        switch (e)
        {
            case "vu":
                return new Segment(SegmentKind.Vu);
            case "iteration":
                return new Segment(SegmentKind.Iteration);
            case "uuid()":
                return new Segment(SegmentKind.Uuid);
            case "seq()":
                return new Segment(SegmentKind.Sequence);
        }
        if (e.StartsWith("random(", StringComparison.Ordinal) && e.EndsWith(')'))
        {
            var args = e[7..^1].Split(',', StringSplitOptions.TrimEntries);
            if (args.Length != 2 || !long.TryParse(args[0], CultureInfo.InvariantCulture, out var min) || !long.TryParse(args[1], CultureInfo.InvariantCulture, out var max) || max < min)
            {
                throw error($"{{{{{e}}}}}: random takes two integers MIN, MAX with MIN ≤ MAX (both included)");
            }
            return new Segment(SegmentKind.Random, Min: min, Max: max);
        }
        var capture = IndexOf(scope.Captures, e);
        if (capture >= 0)
        {
            return new Segment(SegmentKind.Capture, Index: capture);
        }
        if (scope.Variables.TryGetValue(e, out var value))
        {
            return new Segment(SegmentKind.Literal, value.Text, Raw: value.Raw);
        }
        throw error($"{{{{{e}}}}}: unknown name (use {Help})");
    }

    private static int IndexOf(IReadOnlyList<string> list, string name)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] == name)
            {
                return i;
            }
        }
        return -1;
    }
}

/// <summary>A field access into a JSON answer: <c>$.session</c>, <c>$.items[0].transfer_id</c>, <c>data.id</c>.</summary>
internal sealed class JsonPath
{
    private readonly object[] _parts;

    private JsonPath(object[] parts, string source)
    {
        _parts = parts;
        Source = source;
    }

    public string Source { get; }

    public static JsonPath Parse(string text, Func<string, Exception> error)
    {
        var s = text.Trim();
        if (s.StartsWith('$'))
        {
            s = s[1..];
        }
        var parts = new List<object>();
        var i = 0;
        while (i < s.Length)
        {
            if (s[i] == '.')
            {
                i++;
                continue;
            }
            if (s[i] == '[')
            {
                var close = s.IndexOf(']', i);
                if (close < 0 || !int.TryParse(s.AsSpan(i + 1, close - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    throw error($"'{text}': an index is written [N] with N ≥ 0");
                }
                parts.Add(index);
                i = close + 1;
                continue;
            }
            var end = i;
            while (end < s.Length && s[end] is not ('.' or '['))
            {
                end++;
            }
            parts.Add(s[i..end]);
            i = end;
        }
        if (parts.Count == 0 && text.Trim() != "$")
        {
            throw error($"'{text}': expected a field path such as $.session or $.items[0].id");
        }
        return new JsonPath([.. parts], text);
    }

    public bool TryGet(JsonElement root, out JsonElement value)
    {
        value = root;
        foreach (var part in _parts)
        {
            if (part is string name)
            {
                if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(name, out value))
                {
                    return false;
                }
            }
            else
            {
                var index = (int)part;
                if (value.ValueKind != JsonValueKind.Array || index >= value.GetArrayLength())
                {
                    return false;
                }
                value = value[index];
            }
        }
        return true;
    }
}
