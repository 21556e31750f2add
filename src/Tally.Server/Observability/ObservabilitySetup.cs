using OpenTelemetry.Metrics;

namespace Tally.Server.Observability;

public static class ObservabilitySetup
{
    /// <summary>
    /// The request-duration buckets of the latency SLO (a 0.3 s bucket, so that "p95 &lt; 300 ms" is an exact
    /// ratio of counters), the money audit as metrics, run where the workers run (Role=worker or all), and /ready
    /// as metrics (tally_ready, tally_health_check_status), from the report the publisher refreshes every second.
    /// </summary>
    public static WebApplicationBuilder AddTallyObservability(this WebApplicationBuilder builder, TallyRole role)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddView(
            "http.server.request.duration",
            new ExplicitBucketHistogramConfiguration { Boundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 10] }));
        builder.Services.AddOptions<AuditOptions>().BindConfiguration(AuditOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        if (role.RunsWorkers())
        {
            builder.Services.AddHostedService<LedgerAuditMetrics>();
        }
        builder.Services.AddSingleton<IHealthCheckPublisher, ReadinessMetrics>();
        return builder;
    }
}
