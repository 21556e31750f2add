using System.Diagnostics.Metrics;

namespace Tally.Server.Observability;

/// <summary>Tally's own instruments; the Prometheus exporter names them tally_*.</summary>
public sealed class TallyMetrics
{
    public const string MeterName = "Tally";

    private readonly Meter _meter;
    private readonly Counter<long> _transfers;
    private readonly Counter<long> _commands;
    private readonly Histogram<double> _queueWait;
    private readonly Counter<long> _logins;
    private readonly Counter<long> _admission;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _deadlineDrops;

    public TallyMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _transfers = _meter.CreateCounter<long>("tally.transfers", unit: "{transfer}", description: "Transfer outcomes by status");
        _commands = _meter.CreateCounter<long>("tally.bus.commands", unit: "{command}", description: "Commands by type and outcome");
        _queueWait = _meter.CreateHistogram<double>(
            "tally.bus.queue.wait",
            unit: "s",
            description: "Time a command waited in the queue before a worker took it (consumer lag)",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _logins = _meter.CreateCounter<long>("tally.logins", unit: "{login}", description: "Login attempts by outcome");
        _admission = _meter.CreateCounter<long>("tally.admission.requests", unit: "{request}", description: "Requests admitted or refused, per bulkhead");
        _refused = _meter.CreateCounter<long>("tally.admission.refused", unit: "{request}", description: "Requests refused 503 OVERLOADED, per bulkhead and reason (limit, queue_timeout)");
        _deadlineDrops = _meter.CreateCounter<long>("tally.deadline.dropped", unit: "{operation}", description: "Work dropped unstarted because its deadline passed, per stage (request, bus, worker, batch)");
    }

    public void Admitted(string bulkhead) =>
        _admission.Add(1, new KeyValuePair<string, object?>("bulkhead", bulkhead), new KeyValuePair<string, object?>("result", "admitted"));

    public void Refused(string bulkhead, string reason)
    {
        _admission.Add(1, new KeyValuePair<string, object?>("bulkhead", bulkhead), new KeyValuePair<string, object?>("result", "refused"));
        _refused.Add(1, new KeyValuePair<string, object?>("bulkhead", bulkhead), new KeyValuePair<string, object?>("reason", reason));
    }

    public void DeadlineDropped(string stage) => _deadlineDrops.Add(1, new KeyValuePair<string, object?>("stage", stage));

    /// <summary>Per bulkhead: tally_admission_limit, tally_admission_inflight, tally_admission_queued, tally_admission_baseline_seconds.</summary>
    public void ObserveAdmission(IReadOnlyList<(string Bulkhead, Func<int> Limit, Func<int> InFlight, Func<int> Queued, Func<double?> Baseline)> bulkheads)
    {
        _meter.CreateObservableGauge("tally.admission.limit", () => bulkheads.Select(b => new Measurement<int>(b.Limit(), new KeyValuePair<string, object?>("bulkhead", b.Bulkhead))), unit: "{request}", description: "The adaptive concurrency limit now");
        _meter.CreateObservableGauge("tally.admission.inflight", () => bulkheads.Select(b => new Measurement<int>(b.InFlight(), new KeyValuePair<string, object?>("bulkhead", b.Bulkhead))), unit: "{request}", description: "Requests admitted and running");
        _meter.CreateObservableGauge("tally.admission.queued", () => bulkheads.Select(b => new Measurement<int>(b.Queued(), new KeyValuePair<string, object?>("bulkhead", b.Bulkhead))), unit: "{request}", description: "Requests waiting (briefly) for a slot");
        _meter.CreateObservableGauge(
            "tally.admission.baseline",
            () => bulkheads.Where(b => b.Baseline() is not null).Select(b => new Measurement<double>(b.Baseline()!.Value, new KeyValuePair<string, object?>("bulkhead", b.Bulkhead))),
            unit: "s",
            description: "The lowest recent window latency that the limit aims near");
    }

    public void Transfer(string status) => _transfers.Add(1, new KeyValuePair<string, object?>("status", status));

    public void Login(string outcome) => _logins.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void CommandFinished(object command, string outcome) =>
        _commands.Add(1, new KeyValuePair<string, object?>("command", command.GetType().Name), new KeyValuePair<string, object?>("outcome", outcome));

    public void CommandWaited(TimeSpan wait) => _queueWait.Record(wait.TotalSeconds);

    /// <summary>One depth per queue, e.g. the broker's queues as last polled: tally_bus_queue_depth{transport, queue}.</summary>
    public void ObserveQueueDepths(string transport, Func<IEnumerable<KeyValuePair<string, int>>> depths) =>
        _meter.CreateObservableGauge(
            "tally.bus.queue.depth",
            () => depths().Select(d => new Measurement<int>(d.Value, new KeyValuePair<string, object?>("transport", transport), new KeyValuePair<string, object?>("queue", d.Key))),
            unit: "{command}",
            description: "Commands waiting in the queue");

    public void ObserveQueueDepth(string transport, Func<int> depth) =>
        _meter.CreateObservableGauge("tally.bus.queue.depth", () => new Measurement<int>(depth(), new KeyValuePair<string, object?>("transport", transport)), unit: "{command}", description: "Commands waiting in the queue");
}
