using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>Cross-cutting setup shared by Tally's hosts: JSON logs with trace ids, OpenTelemetry, health endpoints, metrics.</summary>
public static class ServiceDefaultsExtensions
{
    public const string ReadyTag = "ready";

    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.ConfigureJsonLogging();
        builder.ConfigureOpenTelemetry();
        builder.Services.AddHealthChecks();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<ThreadPoolDelay>();
        builder.Services.TryAddSingleton<IQueueDelay>(sp => sp.GetRequiredService<ThreadPoolDelay>());
        return builder;
    }

    /// <summary>
    /// /ready answers from a report refreshed in the background (<see cref="ReadinessCache"/>), for a host whose
    /// checks reach dependencies that load can slow down (a database, a broker). A host whose checks only read
    /// its own memory (the gateway) keeps running them per probe.
    /// </summary>
    public static TBuilder AddCachedReadiness<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ReadinessCache>();
        builder.Services.AddSingleton<IHealthCheckPublisher>(sp => sp.GetRequiredService<ReadinessCache>());
        builder.Services.Configure<HealthCheckPublisherOptions>(options =>
        {
            options.Delay = TimeSpan.Zero;
            options.Period = ReadinessCache.Period;
            options.Predicate = check => check.Tags.Contains(ReadyTag);
        });
        return builder;
    }

    public static TBuilder ConfigureJsonLogging<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(options =>
        {
            options.IncludeScopes = true;
            options.UseUtcTimestamp = true;
            options.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
        });
        builder.Logging.Configure(options => options.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        var telemetry = builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Tally*")
                .AddPrometheusExporter())
            .WithTracing(tracing => tracing
                .AddSource("Tally*")
                .AddSource("Npgsql")
                .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsOperationsPath(context.Request.Path))
                .AddHttpClientInstrumentation());
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            telemetry.UseOtlpExporter();
        }
        return builder;
    }

    /// <summary>/health (liveness: the process serves), /ready (each dependency, 503 when one fails) and /metrics (Prometheus).</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks("/health", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = (context, _) => context.Response.WriteAsJsonAsync(new { status = "healthy" }),
        }).WithMetadata(new HttpMethodMetadata(["GET", "HEAD"])).ExcludeFromDescription();
        if (app.Services.GetService<ReadinessCache>() is not null)
        {
            // From the background-refreshed report: load can't delay the probe or fail it by slowing a check down.
            app.MapMethods("/ready", ["GET", "HEAD"], async (HttpContext context, ReadinessCache readiness) =>
            {
                var report = await readiness.CurrentAsync(context.RequestAborted);
                context.Response.StatusCode = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
                context.Response.Headers.CacheControl = "no-store, no-cache";
                await WriteReadinessAsync(context, report);
            }).ExcludeFromDescription();
        }
        else
        {
            app.MapHealthChecks("/ready", new HealthCheckOptions
            {
                Predicate = check => check.Tags.Contains(ReadyTag),
                ResponseWriter = WriteReadinessAsync,
            }).WithMetadata(new HttpMethodMetadata(["GET", "HEAD"])).ExcludeFromDescription();
        }
        app.MapPrometheusScrapingEndpoint("/metrics").WithMetadata(new HttpMethodMetadata(["GET", "HEAD"]));
        return app;
    }

    /// <summary>One log line per request: method, route, status, duration and user id; never a body, token or password.</summary>
    public static IApplicationBuilder UseRequestLogging(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Tally.Requests");
        return app.Use(async (context, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                var level = IsOperationsPath(context.Request.Path) ? LogLevel.Debug : LogLevel.Information;
                if (logger.IsEnabled(level))
                {
                    var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(unmatched)";
                    logger.Log(
                        level,
                        "HTTP {Method} {Route} responded {StatusCode} in {DurationMs:0.000} ms for user {UserId}",
                        context.Request.Method,
                        route,
                        context.Response.StatusCode,
                        Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                        context.User.FindFirst("sub")?.Value ?? "-");
                }
            }
        });
    }

    public static bool IsOperationsPath(PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/ready") || path.StartsWithSegments("/metrics");

    public static Task WriteReadinessAsync(HttpContext context, HealthReport report)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(report);
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString().ToLowerInvariant(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new
                {
                    status = e.Value.Status.ToString().ToLowerInvariant(),
                    description = e.Value.Description,
                    duration_ms = Math.Round(e.Value.Duration.TotalMilliseconds, 3),
                }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, s_json));
    }
}
