using YamlDotNet.RepresentationModel;

namespace Tally.Load.ScenarioFiles;

/// <summary>
/// A JSON body compiled from the file's YAML: constant parts are encoded once, placeholders are
/// written per request. A string that is exactly one placeholder takes that value's JSON kind (a
/// number from random() or a numeric capture stays a number); other strings stay strings.
/// </summary>
internal abstract class JsonBody
{
    public abstract bool IsConstant { get; }

    public abstract void Write(Utf8JsonWriter writer, ITemplateContext c);

    public static JsonBody Compile(Yaml yaml, YamlNode node, string field, Scope scope)
    {
        JsonBody body = node switch
        {
            YamlMappingNode => new ObjectBody([.. yaml.Entries(node, field).Select(e => (JsonEncodedText.Encode(e.Key), Compile(yaml, e.Value, Yaml.Join(field, e.Key), scope)))]),
            YamlSequenceNode seq => new ArrayBody([.. seq.Children.Select((n, i) => Compile(yaml, n, $"{field}[{i}]", scope))]),
            YamlScalarNode s when Yaml.IsJsonLiteral(s) => new ConstantBody(Encoding.UTF8.GetBytes(s.Value!)),
            YamlScalarNode s => new StringBody(TemplateCompiler.Compile(s.Value ?? "", scope, m => yaml.Error(node, field, m))),
            _ => throw yaml.Error(node, field, "an alias is not supported here"),
        };
        return body.IsConstant && body is not ConstantBody ? new ConstantBody(Encode(body)) : body;
    }

    private static byte[] Encode(JsonBody body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            body.Write(writer, null!);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private sealed class ConstantBody(byte[] json) : JsonBody
    {
        public override bool IsConstant => true;

        public override void Write(Utf8JsonWriter writer, ITemplateContext c) => writer.WriteRawValue(json, skipInputValidation: true);
    }

    private sealed class StringBody(Template template) : JsonBody
    {
        public override bool IsConstant => template.IsConstant;

        public override void Write(Utf8JsonWriter writer, ITemplateContext c)
        {
            // A constant is one literal segment, which keeps a numeric variable's kind; a rendered
            // value keeps its kind only when the string is that one placeholder.
            if (template.IsRandom(out var min, out var max))
            {
                writer.WriteNumberValue(c.Random.NextInt64(min, max + 1));
                return;
            }
            var value = template.IsConstant ? template.Literal : template.RenderValue(c);
            if (value.Raw)
            {
                writer.WriteRawValue(value.Text, skipInputValidation: true);
            }
            else
            {
                writer.WriteStringValue(value.Text);
            }
        }
    }

    private sealed class ObjectBody((JsonEncodedText Name, JsonBody Value)[] members) : JsonBody
    {
        public override bool IsConstant => members.All(m => m.Value.IsConstant);

        public override void Write(Utf8JsonWriter writer, ITemplateContext c)
        {
            writer.WriteStartObject();
            foreach (var (name, value) in members)
            {
                writer.WritePropertyName(name);
                value.Write(writer, c);
            }
            writer.WriteEndObject();
        }
    }

    private sealed class ArrayBody(JsonBody[] items) : JsonBody
    {
        public override bool IsConstant => items.All(i => i.IsConstant);

        public override void Write(Utf8JsonWriter writer, ITemplateContext c)
        {
            writer.WriteStartArray();
            foreach (var item in items)
            {
                item.Write(writer, c);
            }
            writer.WriteEndArray();
        }
    }
}
