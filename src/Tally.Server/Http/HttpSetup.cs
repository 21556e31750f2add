using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;
using Scalar.AspNetCore;
using Tally.Server.Admission;

namespace Tally.Server.Http;

/// <summary>The answer of GET {area}/health.</summary>
public sealed record AreaHealth(string Status, string Service);

public static class HttpSetup
{
    public const string RequestIdHeader = "X-Request-Id";

    /// <summary>snake_case JSON, problem details for every error, the body limit, and the OpenAPI document.</summary>
    public static WebApplicationBuilder AddTallyHttp(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            options.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
            options.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            options.SerializerOptions.MaxDepth = 32;
        });
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = Problems.Customize);
        builder.Services.AddExceptionHandler<TallyExceptionHandler>();
        builder.Services.AddOptions<LimitsOptions>().BindConfiguration(LimitsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var limits = context.Configuration.GetSection(LimitsOptions.Section).Get<LimitsOptions>() ?? new LimitsOptions();
            kestrel.Limits.MaxRequestBodySize = limits.MaxBodyBytes;
            kestrel.AddServerHeader = false;
        });
        builder.Services.AddOpenApi(options => options.AddTallyTransformers());
        builder.AddTrustedProxies(trustLoopbackByDefault: true);
        return builder;
    }

    public static WebApplication UseTallyHttp(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseForwardedHeaders();
        app.Use(RequestIdAsync);
        // Admission comes before any work, routing, the exception handler and the per-request log line included:
        // a refusal under overload must cost as little as possible. Before routing, its rate-limiting middleware
        // sees no endpoint, so it runs only the admission limiter; the endpoints' own policies (the login limit)
        // run in the second one that Program.cs places after authentication.
        app.UseTallyAdmission();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRequestLogging();
        app.UseMiddleware<BodySizeLimitMiddleware>();
        app.UseRouting();
        return app;
    }

    public static WebApplication MapTallyDocs(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapScalarApiReference("/docs", options => options
            .WithTitle("Tally API")
            .WithOpenApiRoutePattern("/openapi/{documentName}.json"));
        return app;
    }

    /// <summary>
    /// An area whose endpoints need a session: the group at <paramref name="prefix"/> under <paramref name="tag"/>, with
    /// the server errors any endpoint can answer and the area's open GET health (<see cref="MapAreaHealth"/>). Returns
    /// the group, behind the session, that the area maps its endpoints on.
    /// </summary>
    public static RouteGroupBuilder MapSessionArea(this IEndpointRouteBuilder app, string prefix, string tag, string service)
    {
        ArgumentNullException.ThrowIfNull(app);
        var area = app.MapGroup(prefix).WithTags(tag).ProducesServerErrors();
        area.MapAreaHealth(service);
        return area.MapGroup("").RequireSession().ProducesSessionErrors();
    }

    /// <summary>GET {area}/health: the area's view of the dependencies it needs, 503 when one of them fails.</summary>
    public static RouteGroupBuilder MapAreaHealth(this RouteGroupBuilder group, string service)
    {
        ArgumentNullException.ThrowIfNull(group);
        group.MapGet("/health", async (HealthCheckService health, HttpContext http) =>
        {
            var report = await health.CheckHealthAsync(c => c.Tags.Contains(ServiceDefaultsExtensions.ReadyTag), http.RequestAborted);
            var healthy = report.Status != HealthStatus.Unhealthy;
            return TypedResults.Json(
                new AreaHealth(healthy ? "healthy" : "unhealthy", service),
                statusCode: healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        })
            .WithName(service + "Health")
            .WithSummary($"Health of the {service} area")
            .WithDescription("200 when the dependencies this area needs answer; 503, with the same body, when one of them fails.")
            .Produces<AreaHealth>(StatusCodes.Status200OK)
            .Produces<AreaHealth>(StatusCodes.Status503ServiceUnavailable);
        return group;
    }

    // Echo a sane client id (so a trace can be followed across hops), or make one. Set as the
    // response starts, so that it survives the exception handler clearing the headers.
    private static Task RequestIdAsync(HttpContext context, RequestDelegate next)
    {
        var given = context.Request.Headers[RequestIdHeader].ToString();
        var id = given.Length is > 0 and <= 128 && given.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')
            ? given
            : System.Diagnostics.Activity.Current?.TraceId.ToString() ?? Guid.NewGuid().ToString("N");
        context.Response.OnStarting(() =>
        {
            context.Response.Headers[RequestIdHeader] = id;
            return Task.CompletedTask;
        });
        return next(context);
    }
}
