using System.Diagnostics.Metrics;
using System.Reflection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Tally.Server.Observability;
using Tally.Server.Storage;

namespace Tally.Server.Tests.Observability;

/// <summary>The money audit and /ready as metrics: what Prometheus alerts on (deploy/prometheus).</summary>
public sealed class ObservabilityMetricsTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly IMeterFactory _factory;
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, List<(long Value, KeyValuePair<string, object?>[] Tags)>> _measurements = [];

    public ObservabilityMetricsTests()
    {
        _factory = _services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, _factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        _listener.Start();
    }

    private void Record(string name, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        lock (_measurements)
        {
            if (!_measurements.TryGetValue(name, out var list))
            {
                _measurements[name] = list = [];
            }
            list.Add((value, tags.ToArray()));
        }
    }

    private List<(long Value, KeyValuePair<string, object?>[] Tags)> Observe(string name)
    {
        lock (_measurements)
        {
            _measurements.Remove(name);
        }
        _listener.RecordObservableInstruments();
        lock (_measurements)
        {
            return _measurements.TryGetValue(name, out var list) ? [.. list] : [];
        }
    }

    /// <summary>Starts the audit service over <paramref name="audit"/> and waits until its first run is recorded.</summary>
    private async Task<LedgerAuditMetrics> StartAuditAsync(Func<Task<LedgerAudit>> audit)
    {
        var service = new LedgerAuditMetrics(
            FakeReader.Create(audit),
            _factory,
            TimeProvider.System,
            Microsoft.Extensions.Options.Options.Create(new AuditOptions { Interval = TimeSpan.FromHours(1) }),
            NullLogger<LedgerAuditMetrics>.Instance);
        await service.StartAsync(CancellationToken.None);
        await WaitForAsync("tally.ledger.audits");
        return service;
    }

    /// <summary>The outcome tag of the one audit run recorded.</summary>
    private object? AuditOutcome() => Assert.Single(_measurements["tally.ledger.audits"]).Tags.Single(t => t.Key == "outcome").Value;

    private async Task WaitForAsync(string counter)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            lock (_measurements)
            {
                if (_measurements.ContainsKey(counter))
                {
                    return;
                }
            }
            await Task.Delay(20);
        }
        Assert.Fail($"{counter} was never recorded");
    }

    [Fact]
    public async Task FailedAudit_ExportsOkZero_TheLedgerSum_AndTheBrokenCounts()
    {
        using var service = await StartAuditAsync(() => Task.FromResult(new LedgerAudit(false, 250, 3, 100, -350, 0, 1, 2)));

        Assert.Equal(0, Assert.Single(Observe("tally.ledger.audit.ok")).Value);
        Assert.Equal(250, Assert.Single(Observe("tally.ledger.sum")).Value);
        Assert.Equal(1, Assert.Single(Observe("tally.ledger.negative_balances")).Value);
        Assert.Equal(2, Assert.Single(Observe("tally.ledger.mismatched_accounts")).Value);
        var timestamp = Assert.Single(Observe("tally.ledger.audit.timestamp")).Value;
        Assert.InRange(timestamp, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal("failed", AuditOutcome());
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task PassedAudit_ExportsOkOne_AndASumOfZero()
    {
        using var service = await StartAuditAsync(() => Task.FromResult(new LedgerAudit(true, 0, 3, 200_000, -200_000, 0, 0, 0)));

        Assert.Equal(1, Assert.Single(Observe("tally.ledger.audit.ok")).Value);
        Assert.Equal(0, Assert.Single(Observe("tally.ledger.sum")).Value);
        Assert.Equal("ok", AuditOutcome());
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task AuditThatCannotRun_CountsAnError_AndReportsNoGauge()
    {
        using var service = await StartAuditAsync(() => Task.FromException<LedgerAudit>(new InvalidOperationException("database down")));

        Assert.Empty(Observe("tally.ledger.audit.ok"));
        Assert.Empty(Observe("tally.ledger.sum"));
        Assert.Equal("error", AuditOutcome());
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Readiness_IsZeroWhenACheckIsUnhealthy_AndOneWhenOnlyDegraded()
    {
        var readiness = new ReadinessMetrics(_factory);
        Assert.Empty(Observe("tally.ready"));

        await readiness.PublishAsync(Report(("database", HealthStatus.Unhealthy), ("cache", HealthStatus.Healthy)), CancellationToken.None);
        Assert.Equal(0, Assert.Single(Observe("tally.ready")).Value);
        var checks = Observe("tally.health_check.status").ToDictionary(m => (string)m.Tags.Single(t => t.Key == "check").Value!, m => m.Value);
        Assert.Equal(new Dictionary<string, long> { ["database"] = 0, ["cache"] = 2 }, checks);

        await readiness.PublishAsync(Report(("database", HealthStatus.Healthy), ("cache", HealthStatus.Degraded)), CancellationToken.None);
        Assert.Equal(1, Assert.Single(Observe("tally.ready")).Value);
        Assert.Equal(1, Observe("tally.health_check.status").Single(m => (string)m.Tags.Single(t => t.Key == "check").Value! == "cache").Value);
    }

    private static HealthReport Report(params (string Name, HealthStatus Status)[] entries) =>
        new(entries.ToDictionary(e => e.Name, e => new HealthReportEntry(e.Status, null, TimeSpan.Zero, null, null)), TimeSpan.Zero);

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
    }

    /// <summary>An ILedgerReader that only audits.</summary>
    public class FakeReader : DispatchProxy
    {
        private Func<Task<LedgerAudit>> _audit = () => throw new InvalidOperationException();

        public static ILedgerReader Create(Func<Task<LedgerAudit>> audit)
        {
            var reader = DispatchProxy.Create<ILedgerReader, FakeReader>();
            ((FakeReader)(object)reader)._audit = audit;
            return reader;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(ILedgerReader.AuditAsync)
                ? _audit()
                : throw new NotSupportedException(targetMethod?.Name);
    }
}
