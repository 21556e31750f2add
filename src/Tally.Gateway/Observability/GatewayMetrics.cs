using System.Diagnostics.Metrics;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Tally.Gateway.Observability;

/// <summary>
/// The gateway's own instruments, next to ASP.NET Core's per-route <c>http.server.request.duration</c>
/// (rate, errors by status, latency): upstream health as a gauge, refusals by reason, retries and upstream errors.
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
    }

    public void Rejected(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Retried() => _retries.Add(1);

    public void UpstreamError(string error) => _upstreamErrors.Add(1, new KeyValuePair<string, object?>("error", error));

    private IEnumerable<Measurement<int>> ObserveHealth()
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
                yield return new Measurement<int>(
                    IsInPool(destination) ? 1 : 0,
                    new KeyValuePair<string, object?>("destination", destination.DestinationId),
                    new KeyValuePair<string, object?>("address", destination.Model.Config.Address));
            }
        }
    }

    public static bool IsInPool(DestinationState destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return destination.Health.Active != DestinationHealth.Unhealthy && destination.Health.Passive != DestinationHealth.Unhealthy;
    }
}
