using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;
using Tally.Gateway.Proxy.Health;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Tally.Gateway.Proxy;

/// <summary>
/// YARP's routes and its one cluster, built from <see cref="GatewayOptions"/>: <c>/api/*</c> (with login and
/// transfer as routes of their own, so that metrics show them apart), <c>/ws</c>, and everything else, all to
/// the pool of api instances, with active probes of <c>/ready</c> and passive checks on live failures that tell ill health
/// from overload, a panic threshold, and slow start (see <see cref="HealthCheckOptions"/>).
/// </summary>
public sealed class GatewayProxyConfig : IProxyConfigProvider
{
    public const string ClusterId = "api";

    private readonly Snapshot _snapshot;

    public GatewayProxyConfig(IOptions<GatewayOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _snapshot = new Snapshot(Routes(), [Cluster(options.Value)]);
    }

    public IProxyConfig GetConfig() => _snapshot;

    private static RouteConfig[] Routes() =>
    [
        Route("login", "/api/auth/login", ["POST"]),
        Route("token", "/api/auth/token", ["POST"]),
        Route("transfer", "/api/transfer/transfer", ["POST"]),
        Route("api", "/api/{**rest}"),
        Route("ws", "/ws"),
        // Last: the web app's pages, /docs and /openapi/*. The gateway's own /health, /ready and /metrics are
        // literal endpoints and win over this catch-all.
        Route("web", "/{**rest}", order: 100),
    ];

    private static RouteConfig Route(string id, string path, string[]? methods = null, int? order = null) => new()
    {
        RouteId = id,
        ClusterId = ClusterId,
        Order = order,
        Match = new RouteMatch { Path = path, Methods = methods },
    };

    private static ClusterConfig Cluster(GatewayOptions options)
    {
        var health = options.HealthChecks;
        var destinations = new Dictionary<string, DestinationConfig>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Backends.Length; i++)
        {
            destinations[$"api-{i}"] = new DestinationConfig { Address = options.Backends[i] };
        }
        return new ClusterConfig
        {
            ClusterId = ClusterId,
            LoadBalancingPolicy = health.SlowStartWindow > TimeSpan.Zero ? SlowStartLoadBalancingPolicy.PolicyName : options.LoadBalancingPolicy,
            Destinations = destinations,
            HealthCheck = new HealthCheckConfig
            {
                // Healthy and not-yet-probed instances; all but the unreachable ones when too few are (the panic threshold).
                AvailableDestinationsPolicy = PanicThresholdDestinationsPolicy.PolicyName,
                Active = new ActiveHealthCheckConfig
                {
                    Enabled = health.ActiveEnabled,
                    Interval = health.ActiveInterval,
                    Timeout = health.ActiveTimeout,
                    Policy = OverloadTolerantProbePolicy.PolicyName,
                    Path = health.ActivePath,
                },
                Passive = new PassiveHealthCheckConfig
                {
                    Enabled = health.PassiveEnabled,
                    Policy = TransportFailurePassivePolicy.PolicyName,
                    ReactivationPeriod = health.PassiveReactivationPeriod,
                },
            },
            HttpRequest = new ForwarderRequestConfig { ActivityTimeout = options.Limits.UpstreamTimeout },
        };
    }

    private sealed class Snapshot(IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters) : IProxyConfig
    {
        public IReadOnlyList<RouteConfig> Routes { get; } = routes;
        public IReadOnlyList<ClusterConfig> Clusters { get; } = clusters;
        public IChangeToken ChangeToken { get; } = NullChangeToken.Singleton;
    }
}
