using k8s;
using k8s.Models;
using YamlDotNet.Serialization;

namespace Tally.Deploy.Tests.Infrastructure;

/// <summary>A rendered kustomization: the built-in objects as the official client's typed models, the rest as plain maps.</summary>
internal sealed class Manifests
{
    public required IReadOnlyList<object> Typed { get; init; }

    public required IReadOnlyList<Dictionary<string, object>> Custom { get; init; }

    public int Count => Typed.Count + Custom.Count;

    public IEnumerable<T> OfKind<T>() => Typed.OfType<T>();

    public T Named<T>(string name)
        where T : IMetadata<V1ObjectMeta> =>
        Assert.Single(Typed.OfType<T>(), o => o.Metadata.Name == name);

    public IEnumerable<Dictionary<string, object>> CustomOfKind(string kind) =>
        Custom.Where(o => (o["kind"] as string) == kind);

    /// <summary>API groups of the operators' kinds (KEDA, Prometheus Operator, CloudNativePG and its Barman Cloud plugin, RabbitMQ).</summary>
    private static readonly HashSet<string> CustomGroups = new(StringComparer.Ordinal)
    {
        "keda.sh", "monitoring.coreos.com", "postgresql.cnpg.io", "barmancloud.cnpg.io", "rabbitmq.com",
    };

    public static IEnumerable<string> Documents(string yaml) =>
        yaml.Split(["\n---\n", "\r\n---\r\n"], StringSplitOptions.RemoveEmptyEntries)
            .Select(d => d.Trim().TrimStart('-').Trim())
            .Where(d => d.Length > 0);

    /// <summary>Loads with strict=true: a field the Kubernetes model does not have (a typo) is an error.</summary>
    public static Manifests Load(string yaml)
    {
        var typed = new List<object>();
        var custom = new List<Dictionary<string, object>>();
        var plain = new DeserializerBuilder().Build();
        foreach (var document in Documents(yaml))
        {
            var map = plain.Deserialize<Dictionary<string, object>>(document);
            var apiVersion = (string)map["apiVersion"];
            if (CustomGroups.Contains(apiVersion.Split('/')[0]))
            {
                custom.Add(map);
            }
            else
            {
                typed.AddRange(KubernetesYaml.LoadAllFromString(document, typeMap: null, strict: true));
            }
        }
        return new Manifests { Typed = typed, Custom = custom };
    }
}

internal static class Maps
{
    public static object? At(this Dictionary<string, object> map, params string[] path)
    {
        object? current = map;
        foreach (var key in path)
        {
            current = current switch
            {
                Dictionary<object, object> d => d.GetValueOrDefault(key),
                Dictionary<string, object> d => d.GetValueOrDefault(key),
                _ => null,
            };
        }
        return current;
    }

    public static string? Text(this Dictionary<string, object> map, params string[] path) => map.At(path)?.ToString();

    public static IEnumerable<Dictionary<object, object>> Items(this Dictionary<string, object> map, params string[] path) =>
        (map.At(path) as List<object> ?? []).Cast<Dictionary<object, object>>();

    public static string? Text(this Dictionary<object, object> map, params string[] path)
    {
        object? current = map;
        foreach (var key in path)
        {
            current = (current as Dictionary<object, object>)?.GetValueOrDefault(key);
        }
        return current?.ToString();
    }
}
