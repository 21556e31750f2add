using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Trace;
using Tally.Gateway.Proxy.Health;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.LoadBalancing;

namespace Tally.Gateway.Proxy;

public static class ProxySetup
{
    /// <summary>
    /// YARP with the routes and pool of <see cref="GatewayProxyConfig"/>, the gateway's health, panic and slow-start
    /// policies, and the readiness check on the pool.
    /// </summary>
    public static WebApplicationBuilder AddGatewayProxy(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<IProxyConfigProvider, GatewayProxyConfig>();
        builder.Services.AddReverseProxy();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<UpstreamPool>();
        builder.Services.AddSingleton<IActiveHealthCheckPolicy, OverloadTolerantProbePolicy>();
        builder.Services.AddSingleton<IPassiveHealthCheckPolicy, TransportFailurePassivePolicy>();
        builder.Services.AddSingleton<IAvailableDestinationsPolicy, PanicThresholdDestinationsPolicy>();
        builder.Services.AddSingleton<ILoadBalancingPolicy, SlowStartLoadBalancingPolicy>();
        builder.Services.AddHealthChecks().AddCheck<UpstreamReadinessCheck>("upstreams", tags: [ServiceDefaultsExtensions.ReadyTag]);
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddSource("Yarp.ReverseProxy"));
        return builder;
    }

    /// <summary>
    /// YARP's standard pipeline (load balancing, passive health checks), with the retry and the error problems in front,
    /// then the deadline of each attempt.
    /// </summary>
    public static WebApplication MapGatewayProxy(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapReverseProxy(pipeline =>
        {
            pipeline.UseMiddleware<UpstreamFailureMiddleware>();
            pipeline.UseMiddleware<UpstreamDeadlineMiddleware>();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });
        return app;
    }
}
