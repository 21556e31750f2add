using System.Diagnostics.Metrics;
using Tally.Gateway.Proxy.Health;
using Yarp.ReverseProxy;

namespace Tally.Gateway.Observability;

/// <summary>
/// The gateway's own instruments, next to ASP.NET Core's per-route <c>http.server.request.duration</c>
/// (rate, errors by status, latency): upstream health, slow-start weight and panic routing as gauges, refusals by reason,
/// retries and upstream errors.
/// </summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "Tally.Gateway";

    private readonly Counter<long> _rejected;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _upstreamErrors;
    private readonly IServiceProvider _services;

    public GatewayMetrics(IMeterFactory meters, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _services = services;
        var meter = meters.Create(MeterName);
        _rejected = meter.CreateCounter<long>("tally.gateway.rejected", description: "Requests the gateway refused itself, by reason.");
        _retries = meter.CreateCounter<long>("tally.gateway.retries", description: "Idempotent requests retried once on another instance.");
        _upstreamErrors = meter.CreateCounter<long>("tally.gateway.upstream.errors", description: "Failed forwarding attempts, by YARP error.");
        meter.CreateObservableGauge("tally.gateway.upstream.healthy", ObserveHealth, description: "1 while an instance is in the pool (healthy, or not yet probed), 0 while it is out.");
        meter.CreateObservableGauge("tally.gateway.upstream.weight", ObserveWeight,
            description: "An instance's share factor: 0 while it gets no traffic, rising from 0.1 to 1 over the slow-start window after it joins, 1 otherwise.");
        meter.CreateObservableGauge("tally.gateway.panic", ObservePanic,
            description: "1 while fewer than the panic threshold of instances are healthy and the gateway routes to all that accept connections, else 0.");
    }

    public void Rejected(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Retried() => _retries.Add(1);

    public void UpstreamError(string error) => _upstreamErrors.Add(1, new KeyValuePair<string, object?>("error", error));

    private IEnumerable<Measurement<int>> ObserveHealth()
    {
        foreach (var (_, destination) in Destinations())
        {
            yield return new Measurement<int>(IsInPool(destination) ? 1 : 0, Tags(destination));
        }
    }

    private IEnumerable<Measurement<double>> ObserveWeight()
    {
        var pool = _services.GetService<UpstreamPool>();
        if (pool is null)
        {
            yield break;
        }
        foreach (var (cluster, destination) in Destinations())
        {
            var routed = cluster.DestinationsState?.AvailableDestinations.Contains(destination) ?? false;
            yield return new Measurement<double>(routed ? pool.Weight(destination) : 0.0, Tags(destination));
        }
    }

    private IEnumerable<Measurement<int>> ObservePanic()
    {
        var lookup = _services.GetService<IProxyStateLookup>();
        var pool = _services.GetService<UpstreamPool>();
        if (lookup is null || pool is null)
        {
            yield break;
        }
        foreach (var cluster in lookup.GetClusters())
        {
            yield return new Measurement<int>(pool.InPanic(cluster.ClusterId) ? 1 : 0, new KeyValuePair<string, object?>("cluster", cluster.ClusterId));
        }
    }

    private IEnumerable<(ClusterState Cluster, DestinationState Destination)> Destinations()
    {
        var lookup = _services.GetService<IProxyStateLookup>();
        if (lookup is null)
        {
            yield break;
        }
        foreach (var cluster in lookup.GetClusters())
        {
            foreach (var destination in cluster.Destinations.Values)
            {
                yield return (cluster, destination);
            }
        }
    }

    private static KeyValuePair<string, object?>[] Tags(DestinationState destination) =>
    [
        new("destination", destination.DestinationId),
        new("address", destination.Model.Config.Address),
    ];

    public static bool IsInPool(DestinationState destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return destination.Health.Active != DestinationHealth.Unhealthy && destination.Health.Passive != DestinationHealth.Unhealthy;
    }
}
