using Microsoft.Extensions.Options;
using OpenTelemetry.Trace;
using Tally.Gateway.Options;
using Yarp.ReverseProxy.Health;
using Tally.Gateway.Observability;
using Yarp.ReverseProxy.Configuration;

namespace Tally.Gateway.Proxy;

public static class ProxySetup
{
    /// <summary>YARP with the routes and pool of <see cref="GatewayProxyConfig"/>, and the readiness check on the pool.</summary>
    public static WebApplicationBuilder AddGatewayProxy(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<IProxyConfigProvider, GatewayProxyConfig>();
        builder.Services.AddReverseProxy();
        builder.Services.AddOptions<TransportFailureRateHealthPolicyOptions>().Configure<IOptions<GatewayOptions>>((passive, gateway) =>
        {
            passive.DetectionWindowSize = gateway.Value.HealthChecks.PassiveWindow;
            passive.MinimalTotalCountThreshold = gateway.Value.HealthChecks.PassiveMinimalRequests;
            passive.DefaultFailureRateLimit = gateway.Value.HealthChecks.PassiveFailureRate;
        });
        builder.Services.AddHealthChecks().AddCheck<UpstreamReadinessCheck>("upstreams", tags: [ServiceDefaultsExtensions.ReadyTag]);
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddSource("Yarp.ReverseProxy"));
        return builder;
    }

    /// <summary>YARP's standard pipeline (load balancing, passive health checks), with the retry and the error problems in front.</summary>
    public static WebApplication MapGatewayProxy(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapReverseProxy(pipeline =>
        {
            pipeline.UseMiddleware<UpstreamFailureMiddleware>();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });
        return app;
    }
}
