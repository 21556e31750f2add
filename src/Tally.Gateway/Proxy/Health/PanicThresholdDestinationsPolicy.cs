using Yarp.ReverseProxy.Configuration;

namespace Tally.Gateway.Proxy.Health;

/// <summary>
/// Which instances get traffic. Normally those not marked unhealthy (YARP's HealthyAndUnknown). When fewer than
/// <see cref="HealthCheckOptions.PanicThreshold"/> of them qualify, the health signal is more likely wrong (or the whole
/// pool overloaded) than most instances dead, and squeezing all traffic onto the few left, or refusing it, would make
/// things worse: so the gateway routes to every instance except those whose last probe could not even connect (Envoy's
/// panic threshold). Only when all of them refuse connections does a request get 503 <c>NO_HEALTHY_UPSTREAM</c>.
/// YARP calls this whenever a health state changes; it also tells <see cref="UpstreamPool"/> who joined, for slow start.
/// </summary>
public sealed class PanicThresholdDestinationsPolicy(UpstreamPool pool, IOptions<GatewayOptions> options) : IAvailableDestinationsPolicy
{
    public const string PolicyName = "TallyPanicThreshold";

    private readonly double _threshold = options.Value.HealthChecks.PanicThreshold;

    public string Name => PolicyName;

    public IReadOnlyList<DestinationState> GetAvailalableDestinations(ClusterConfig config, IReadOnlyList<DestinationState> allDestinations)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(allDestinations);
        var activeEnabled = config.HealthCheck?.Active?.Enabled ?? false;
        var passiveEnabled = config.HealthCheck?.Passive?.Enabled ?? false;
        var healthy = new List<DestinationState>(allDestinations.Count);
        var now = pool.Now();
        foreach (var destination in allDestinations)
        {
            var health = destination.Health;
            var inPool = !(activeEnabled && health.Active == DestinationHealth.Unhealthy) && !(passiveEnabled && health.Passive == DestinationHealth.Unhealthy);
            pool.Observe(destination, inPool, now);
            if (inPool)
            {
                healthy.Add(destination);
            }
        }
        var panic = allDestinations.Count > 0 && healthy.Count < _threshold * allDestinations.Count;
        pool.SetPanic(config.ClusterId, panic);
        if (!panic)
        {
            return healthy;
        }
        var reachable = new List<DestinationState>(allDestinations.Count);
        foreach (var destination in allDestinations)
        {
            if (!pool.IsUnreachable(destination))
            {
                reachable.Add(destination);
            }
        }
        return reachable;
    }
}
