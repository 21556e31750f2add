using Microsoft.Extensions.Diagnostics.HealthChecks;
using Yarp.ReverseProxy;

namespace Tally.Gateway.Observability;

/// <summary>
/// The gateway is ready once its first probes are done and it routes to at least one instance: a healthy one, or, in
/// panic, any that accepts connections (a gateway that routes is worth keeping in its load balancer's pool).
/// </summary>
public sealed class UpstreamReadinessCheck(IProxyStateLookup lookup, IActiveHealthCheckMonitor monitor, IOptions<GatewayOptions> options) : IHealthCheck
{
    // Without active probes an instance is never proven healthy; then "not failing" is the best evidence.
    private readonly bool _unknownCounts = !options.Value.HealthChecks.ActiveEnabled;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>();
        var healthy = 0;
        var routed = 0;
        foreach (var cluster in lookup.GetClusters())
        {
            routed += cluster.DestinationsState?.AvailableDestinations.Count ?? 0;
            foreach (var destination in cluster.Destinations.Values)
            {
                var state = Describe(destination);
                data[destination.Model.Config.Address] = state;
                if (state == "healthy" || (_unknownCounts && state == "unknown"))
                {
                    healthy++;
                }
            }
        }
        if (!_unknownCounts && !monitor.InitialProbeCompleted)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The first health probes of the instances have not finished.", data: data));
        }
        if (routed == 0)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"No instance of {data.Count} can take requests.", data: data));
        }
        return Task.FromResult(healthy > 0
            ? HealthCheckResult.Healthy($"{healthy} of {data.Count} instances healthy.", data)
            : HealthCheckResult.Degraded($"No instance of {data.Count} is proven healthy; routing to {routed} of them.", data: data));
    }

    private static string Describe(DestinationState destination) => destination.Health switch
    {
        { Active: DestinationHealth.Unhealthy } or { Passive: DestinationHealth.Unhealthy } => "unhealthy",
        { Active: DestinationHealth.Healthy } => "healthy",
        _ => "unknown",
    };
}
