using System.Reflection;
using System.Text.Json.Serialization.Metadata;

namespace Tally.Server.Bus;

/// <summary>
/// The JSON of commands and outcomes as they cross a queue or rest in the inbox. Unlike the API's JSON, it keeps
/// the internal party ids of a <see cref="TransferView"/> (hidden from clients), so that an outcome read back
/// is the outcome that was written.
/// </summary>
public static class BusJson
{
    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var resolver = new DefaultJsonTypeInfoResolver();
        resolver.Modifiers.Add(KeepInternalIds);
        var options = new JsonSerializerOptions(JsonSerializerDefaults.General) { TypeInfoResolver = resolver };
        options.MakeReadOnly();
        return options;
    }

    public static byte[] Serialize(object value, Type type) => JsonSerializer.SerializeToUtf8Bytes(value, type, Options);

    public static object? Deserialize(ReadOnlySpan<byte> json, Type type) => JsonSerializer.Deserialize(json, type, Options);

    private static void KeepInternalIds(JsonTypeInfo typeInfo)
    {
        if (typeInfo.Type != typeof(TransferView) || typeInfo.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }
        foreach (var name in new[] { nameof(TransferView.FromUserId), nameof(TransferView.ToUserId) })
        {
            for (var i = typeInfo.Properties.Count - 1; i >= 0; i--)
            {
                if (typeInfo.Properties[i].Name == name)
                {
                    typeInfo.Properties.RemoveAt(i);
                }
            }
            var property = typeof(TransferView).GetProperty(name, BindingFlags.Public | BindingFlags.Instance)!;
            var info = typeInfo.CreateJsonPropertyInfo(typeof(long), name);
            info.Get = o => property.GetValue(o);
            info.Set = (o, v) => property.SetValue(o, v);
            typeInfo.Properties.Add(info);
        }
    }
}
