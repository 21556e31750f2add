using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Tally.Load.ScenarioFiles;

/// <summary>A scenario file that can't be used: the message names the file, line, column and field.</summary>
public sealed class ScenarioFileException(string message) : FormatException(message);

/// <summary>
/// Reads the YAML tree (JSON is YAML too) with each node's position, so that every error says
/// where it is: <c>mixed.yaml:12:9: flows[0].steps[1].request: ...</c>.
/// </summary>
internal sealed class Yaml(string file)
{
    public string File { get; } = file;

    public YamlNode Load(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ScenarioFileException($"{File}:{e.Start.Line}:{e.Start.Column}: not valid YAML: {e.Message}");
        }
        if (stream.Documents.Count != 1)
        {
            throw new ScenarioFileException($"{File}: expected one YAML document, found {stream.Documents.Count}");
        }
        return stream.Documents[0].RootNode;
    }

    public ScenarioFileException Error(YamlNode node, string field, string message) =>
        new($"{File}:{node.Start.Line}:{node.Start.Column}: {field}: {message}");

    /// <summary>A mapping's entries by key; keys not in <paramref name="allowed"/> are errors (a typo must not be ignored).</summary>
    public Dictionary<string, YamlNode> Mapping(YamlNode node, string field, params string[] allowed)
    {
        if (node is not YamlMappingNode map)
        {
            throw Error(node, field, "expected a mapping (key: value)");
        }
        var result = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (k, v) in map.Children)
        {
            var key = ((YamlScalarNode)k).Value ?? "";
            if (allowed.Length > 0 && !allowed.Contains(key))
            {
                throw Error(k, Join(field, key), $"unknown field (expected one of: {string.Join(", ", allowed)})");
            }
            result[key] = v;
        }
        return result;
    }

    /// <summary>A mapping's entries in file order, any keys.</summary>
    public List<(string Key, YamlNode KeyNode, YamlNode Value)> Entries(YamlNode node, string field)
    {
        if (node is not YamlMappingNode map)
        {
            throw Error(node, field, "expected a mapping (key: value)");
        }
        return [.. map.Children.Select(e => (((YamlScalarNode)e.Key).Value ?? "", e.Key, e.Value))];
    }

    public IList<YamlNode> Sequence(YamlNode node, string field) =>
        node is YamlSequenceNode seq ? seq.Children : throw Error(node, field, "expected a list (- item)");

    public string Scalar(YamlNode node, string field) =>
        node is YamlScalarNode { Value: { } v } ? v : throw Error(node, field, "expected a single value");

    public double Number(YamlNode node, string field, double min)
    {
        var text = Scalar(node, field);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min)
        {
            throw Error(node, field, $"expected a number ≥ {min.ToString(CultureInfo.InvariantCulture)}, got '{text}'");
        }
        return value;
    }

    public TimeSpan Duration(YamlNode node, string field)
    {
        var text = Scalar(node, field);
        try
        {
            return Engine.Durations.Parse(text);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            throw Error(node, field, $"expected a duration such as 500ms, 1s or 2m, got '{text}'");
        }
    }

    public static string Join(string field, string key) => field.Length == 0 ? key : $"{field}.{key}";

    /// <summary>A plain (unquoted) scalar that YAML would read as a number, true, false or null: written into JSON as it is.</summary>
    public static bool IsJsonLiteral(YamlScalarNode node)
    {
        if (node.Style is not (YamlDotNet.Core.ScalarStyle.Plain or YamlDotNet.Core.ScalarStyle.Any) || node.Value is not { Length: > 0 } v)
        {
            return false;
        }
        if (v is "true" or "false" or "null")
        {
            return true;
        }
        try
        {
            var reader = new System.Text.Json.Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(v));
            return reader.Read() && reader.TokenType == System.Text.Json.JsonTokenType.Number && !reader.Read();
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }
}
