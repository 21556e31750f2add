using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Tally.Gateway.Protection;

public static class ProtectionSetup
{
    public const string CorsPolicy = "gateway";

    /// <summary>Options, Kestrel's limits, rate limits, CORS, problem details and the gateway's metrics.</summary>
    public static WebApplicationBuilder AddGatewayProtection(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.AddGatewayProblems();
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<GatewayOptions>>((kestrel, gateway) =>
        {
            var limits = gateway.Value.Limits;
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = limits.MaxBodyBytes;
            kestrel.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = limits.KeepAliveTimeout;
            kestrel.Limits.MaxRequestHeadersTotalSize = limits.MaxRequestHeadersTotalSize;
        });
        // The edge trusts no proxy's X-Forwarded-For unless configured (an ingress in front): the per-IP limits
        // then see the client, and YARP forwards that address on; otherwise a client's own header is overwritten.
        builder.AddTrustedProxies(trustLoopbackByDefault: false);
        builder.AddGatewayRateLimits();
        builder.Services.AddCors();
        builder.Services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>().Configure<IOptions<GatewayOptions>>((cors, gateway) =>
            cors.AddPolicy(CorsPolicy, policy => policy
                .WithOrigins(gateway.Value.CorsOrigins)
                .AllowAnyHeader()
                .AllowAnyMethod()
                .WithExposedHeaders(EdgeHeadersMiddleware.RequestIdHeader, "Retry-After", "Idempotent-Replayed")
                .SetPreflightMaxAge(TimeSpan.FromMinutes(10))));
        return builder;
    }

    /// <summary>
    /// The edge, in order: the client's address (from a trusted proxy only), the request's deadline, request id and security headers on every answer, problems for exceptions, CORS,
    /// the concurrency cap, the body limit, then the rate limits. The proxy comes after.
    /// </summary>
    public static WebApplication UseGatewayProtection(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseForwardedHeaders();
        app.UseMiddleware<RequestDeadlineMiddleware>();
        app.UseMiddleware<EdgeHeadersMiddleware>();
        app.UseExceptionHandler();
        app.UseCors(CorsPolicy);
        app.UseMiddleware<ConcurrencyCapMiddleware>();
        app.UseMiddleware<BodyLimitMiddleware>();
        app.UseRateLimiter();
        return app;
    }
}
