using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;

namespace Tally.Server.Observability;

public sealed class AuditOptions
{
    public const string Section = "Audit";

    /// <summary>How often the money audit runs and refreshes tally_ledger_*; it reads the whole ledger.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The money audit as metrics, so that Prometheus can alert on it: tally_ledger_audit_ok (1 or 0),
/// tally_ledger_sum (0 when the ledger balances), tally_ledger_negative_balances,
/// tally_ledger_mismatched_accounts, tally_ledger_audit_timestamp_seconds (the last completed audit), and
/// tally_ledger_audits_total{outcome}. Nothing is reported before the first audit completes.
/// </summary>
public sealed class LedgerAuditMetrics : BackgroundService
{
    public const string MeterName = "Tally.Audit";

    private readonly ILedgerReader _reader;
    private readonly TimeProvider _time;
    private readonly IOptions<AuditOptions> _options;
    private readonly ILogger<LedgerAuditMetrics> _logger;
    private readonly Counter<long> _audits;
    private volatile Snapshot? _last;

    public LedgerAuditMetrics(ILedgerReader reader, IMeterFactory meterFactory, TimeProvider time, IOptions<AuditOptions> options, ILogger<LedgerAuditMetrics> logger)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _reader = reader;
        _time = time;
        _options = options;
        _logger = logger;
        var meter = meterFactory.Create(MeterName);
        _audits = meter.CreateCounter<long>("tally.ledger.audits", unit: "{audit}", description: "Money audits by outcome (ok, failed, error)");
        meter.CreateObservableGauge("tally.ledger.audit.ok", () => Observe(s => s.Audit.Ok ? 1 : 0), description: "1 when the last money audit passed, 0 when it failed");
        meter.CreateObservableGauge("tally.ledger.sum", () => Observe(s => s.Audit.LedgerSum), description: "Sum of every account's balance (0 when the ledger balances), in minor units");
        meter.CreateObservableGauge("tally.ledger.negative_balances", () => Observe(s => s.Audit.NegativeBalances), description: "User accounts with a negative balance at the last audit");
        meter.CreateObservableGauge("tally.ledger.mismatched_accounts", () => Observe(s => s.Audit.MismatchedAccounts), description: "Accounts whose balance or holds do not replay from their transfers");
        meter.CreateObservableGauge("tally.ledger.audit.timestamp", () => Observe(s => s.UnixSeconds), unit: "s", description: "Unix time of the last completed money audit");
    }

    private IEnumerable<Measurement<long>> Observe(Func<Snapshot, long> value) =>
        _last is { } snapshot ? [new Measurement<long>(value(snapshot))] : [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.Value.Interval, _time);
        do
        {
            await AuditOnceAsync();
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task AuditOnceAsync()
    {
        try
        {
            var audit = await _reader.AuditAsync();
            _last = new Snapshot(audit, _time.GetUtcNow().ToUnixTimeSeconds());
            _audits.Add(1, new KeyValuePair<string, object?>("outcome", audit.Ok ? "ok" : "failed"));
            if (!audit.Ok)
            {
                _logger.LogCritical(
                    "Money audit failed: ledger sum {LedgerSum}, {NegativeBalances} negative balances, {MismatchedAccounts} mismatched accounts",
                    audit.LedgerSum,
                    audit.NegativeBalances,
                    audit.MismatchedAccounts);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The database may be down; the gauges keep the last result and the timestamp stops advancing.
            _audits.Add(1, new KeyValuePair<string, object?>("outcome", "error"));
            _logger.LogWarning(ex, "Money audit could not run; retrying at the next tick");
        }
    }

    private sealed record Snapshot(LedgerAudit Audit, long UnixSeconds);
}
