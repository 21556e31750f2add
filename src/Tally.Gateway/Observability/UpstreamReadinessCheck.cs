using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Tally.Gateway.Options;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Tally.Gateway.Observability;

/// <summary>The gateway is ready once its first probes are done and at least one instance is healthy.</summary>
public sealed class UpstreamReadinessCheck(IProxyStateLookup lookup, IActiveHealthCheckMonitor monitor, IOptions<GatewayOptions> options) : IHealthCheck
{
    // Without active probes an instance is never proven healthy; then "not failing" is the best evidence.
    private readonly bool _unknownCounts = !options.Value.HealthChecks.ActiveEnabled;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>();
        var healthy = 0;
        foreach (var cluster in lookup.GetClusters())
        {
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
        return Task.FromResult(healthy > 0
            ? HealthCheckResult.Healthy($"{healthy} of {data.Count} instances healthy.", data)
            : HealthCheckResult.Unhealthy($"No healthy instance of {data.Count}.", data: data));
    }

    private static string Describe(DestinationState destination) => destination.Health switch
    {
        { Active: DestinationHealth.Unhealthy } or { Passive: DestinationHealth.Unhealthy } => "unhealthy",
        { Active: DestinationHealth.Healthy } => "healthy",
        _ => "unknown",
    };
}
