using Tally.Gateway.Proxy.Health;
using Yarp.ReverseProxy.LoadBalancing;

namespace Tally.Gateway.Proxy;

/// <summary>
/// Slow start around the configured load-balancing policy (<see cref="GatewayOptions.LoadBalancingPolicy"/>, power of two
/// choices by default): an instance that has just joined the pool is kept to a share of its normal traffic that grows
/// with its <see cref="UpstreamPool.Weight"/>, so that a cold instance (empty caches, JIT, connection pools) is not
/// handed a full share at once. The inner policy picks; a pick lighter than the heaviest instance is kept with
/// probability weight / heaviest weight, otherwise the inner policy picks again among the others.
/// </summary>
public sealed class SlowStartLoadBalancingPolicy(IServiceProvider services, UpstreamPool pool, IOptions<GatewayOptions> options) : ILoadBalancingPolicy
{
    public const string PolicyName = "TallySlowStart";

    private readonly string _innerName = options.Value.LoadBalancingPolicy;
    private ILoadBalancingPolicy? _inner;

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        ArgumentNullException.ThrowIfNull(availableDestinations);
        var inner = Inner();
        var pick = inner.PickDestination(context, cluster, availableDestinations);
        if (pick is null || availableDestinations.Count < 2)
        {
            return pick;
        }
        var now = pool.Now();
        var weight = pool.Weight(pick, now);
        if (weight >= 1.0)
        {
            return pick;
        }
        var heaviest = 0.0;
        foreach (var destination in availableDestinations)
        {
            heaviest = Math.Max(heaviest, pool.Weight(destination, now));
        }
        if (Random.Shared.NextDouble() * heaviest < weight)
        {
            return pick;
        }
        var others = new List<DestinationState>(availableDestinations.Count - 1);
        foreach (var destination in availableDestinations)
        {
            if (!ReferenceEquals(destination, pick))
            {
                others.Add(destination);
            }
        }
        return (others.Count == 1 ? others[0] : inner.PickDestination(context, cluster, others)) ?? pick;
    }

    // Resolved on first use: the policies are one collection of services, of which this is one.
    private ILoadBalancingPolicy Inner() => _inner ??= services.GetServices<ILoadBalancingPolicy>()
        .FirstOrDefault(p => p is not SlowStartLoadBalancingPolicy && string.Equals(p.Name, _innerName, StringComparison.OrdinalIgnoreCase))
        ?? throw new InvalidOperationException($"Gateway:LoadBalancingPolicy names '{_innerName}', which is not a YARP load-balancing policy.");
}
