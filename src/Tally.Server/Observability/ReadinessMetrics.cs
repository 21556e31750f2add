using System.Diagnostics.Metrics;

namespace Tally.Server.Observability;

/// <summary>
/// /ready as metrics, published by the health-check publisher every few seconds: tally_ready (1 when /ready
/// answers 200, 0 when it answers 503) and tally_health_check_status{check} (2 healthy, 1 degraded, 0 unhealthy).
/// </summary>
public sealed class ReadinessMetrics : IHealthCheckPublisher
{
    public const string MeterName = "Tally.Readiness";

    private volatile HealthReport? _last;

    public ReadinessMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge(
            "tally.ready",
            () => _last is { } report ? [new Measurement<int>(report.Status == HealthStatus.Unhealthy ? 0 : 1)] : Array.Empty<Measurement<int>>(),
            description: "1 when /ready answers 200, 0 when it answers 503");
        meter.CreateObservableGauge(
            "tally.health_check.status",
            () => _last is { } report
                ? report.Entries.Select(e => new Measurement<int>((int)e.Value.Status, new KeyValuePair<string, object?>("check", e.Key)))
                : [],
            description: "Each readiness check: 2 healthy, 1 degraded, 0 unhealthy");
    }

    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        _last = report;
        return Task.CompletedTask;
    }
}
