using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The last readiness report, refreshed in the background by the health-check publisher (every second), so that
/// /ready answers from memory: a probe never waits for a database ping, a broker or a pool that load is keeping
/// busy, and a busy instance is never reported unready for being busy. If the publisher has not reported for
/// <see cref="MaxAge"/> (at start, or if it is stuck), the checks run once for the probe instead.
/// </summary>
public sealed class ReadinessCache(HealthCheckService health, TimeProvider time) : IHealthCheckPublisher
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(3);

    private volatile Snapshot? _last;

    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        _last = new Snapshot(report, time.GetTimestamp());
        return Task.CompletedTask;
    }

    /// <summary>Forgets the last report (a check just changed its mind): the next probe runs the checks.</summary>
    public void Invalidate() => _last = null;

    public async Task<HealthReport> CurrentAsync(CancellationToken cancellationToken)
    {
        if (_last is { } last && time.GetElapsedTime(last.At) < MaxAge)
        {
            return last.Report;
        }
        var report = await health.CheckHealthAsync(c => c.Tags.Contains(ServiceDefaultsExtensions.ReadyTag), cancellationToken).ConfigureAwait(false);
        _last = new Snapshot(report, time.GetTimestamp());
        return report;
    }

    private sealed record Snapshot(HealthReport Report, long At);
}
