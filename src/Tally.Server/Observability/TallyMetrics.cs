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
    private readonly Histogram<double> _roundTrip;
    private readonly Counter<long> _logins;
    private static readonly string[] s_bulkheads = ["login", "write", "read"];
    private static readonly string[] s_refusals = ["limit", "queue_timeout", "queue_delay"];
    private static readonly string[] s_stages = ["request", "bus", "worker", "batch"];

    // Kept here and exported as observable counters, so that every series exists (at 0) from the start: a
    // dashboard or an alert on rate() needs the series before the first refusal.
    private readonly long[] _admitted = new long[3];
    private readonly long[] _refused = new long[3 * 3];
    private readonly long[] _deadlineDrops = new long[4];

    public TallyMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _transfers = _meter.CreateCounter<long>("tally.transfers", unit: "{transfer}", description: "Transfer outcomes by status");
        _commands = _meter.CreateCounter<long>("tally.bus.commands", unit: "{command}", description: "Commands by type and outcome");
        _queueWait = BusSeconds("tally.bus.queue.wait", "Time a command waited in the queue before a worker took it (consumer lag)");
        _roundTrip = BusSeconds("tally.bus.round_trip", "From sending a command to its result: in process, the queue and the handler; over RabbitMQ, the publish, the broker, the worker and the reply");
        _logins = _meter.CreateCounter<long>("tally.logins", unit: "{login}", description: "Login attempts by outcome");
        _meter.CreateObservableCounter(
            "tally.admission.requests",
            () => s_bulkheads.SelectMany((b, i) => new[]
            {
                new Measurement<long>(Volatile.Read(ref _admitted[i]), new KeyValuePair<string, object?>("bulkhead", b), new KeyValuePair<string, object?>("result", "admitted")),
                new Measurement<long>(RefusedIn(i), new KeyValuePair<string, object?>("bulkhead", b), new KeyValuePair<string, object?>("result", "refused")),
            }),
            unit: "{request}",
            description: "Requests admitted or refused, per bulkhead");
        _meter.CreateObservableCounter(
            "tally.admission.refused",
            () => s_bulkheads.SelectMany((b, i) => s_refusals.Select((r, j) => new Measurement<long>(
                Volatile.Read(ref _refused[(i * 3) + j]), new KeyValuePair<string, object?>("bulkhead", b), new KeyValuePair<string, object?>("reason", r)))),
            unit: "{request}",
            description: "Requests refused 503 OVERLOADED, per bulkhead and reason (limit, queue_timeout, queue_delay)");
        _meter.CreateObservableCounter(
            "tally.deadline.dropped",
            () => s_stages.Select((s, i) => new Measurement<long>(Volatile.Read(ref _deadlineDrops[i]), new KeyValuePair<string, object?>("stage", s))),
            unit: "{operation}",
            description: "Work dropped unstarted because its deadline passed or its client left, per stage (request, bus, worker, batch)");
    }

    private long RefusedIn(int bulkhead) => Volatile.Read(ref _refused[bulkhead * 3]) + Volatile.Read(ref _refused[(bulkhead * 3) + 1]) + Volatile.Read(ref _refused[(bulkhead * 3) + 2]);

    public void Admitted(string bulkhead) => Interlocked.Increment(ref _admitted[Index(s_bulkheads, bulkhead)]);

    public void Refused(string bulkhead, string reason) =>
        Interlocked.Increment(ref _refused[(Index(s_bulkheads, bulkhead) * 3) + Index(s_refusals, reason)]);

    public void DeadlineDropped(string stage) => Interlocked.Increment(ref _deadlineDrops[Index(s_stages, stage)]);

    private static int Index(string[] names, string name)
    {
        var index = Array.IndexOf(names, name);
        return index >= 0 ? index : throw new ArgumentOutOfRangeException(nameof(name), name, "Not a known label value.");
    }

    /// <summary>tally_threadpool_delay_seconds: the standing wait in the thread pool's queue (see ThreadPoolDelay).</summary>
    public void ObserveThreadPoolDelay(Func<double> seconds) =>
        _meter.CreateObservableGauge("tally.threadpool.delay", () => new Measurement<double>(seconds()), unit: "s", description: "The smallest wait of work in the thread pool's queue over the last 100 ms");

    /// <summary>Per bulkhead: tally_admission_limit, _min_limit, _inflight, _queued, and _baseline_seconds.</summary>
    public void ObserveAdmission(IReadOnlyList<(string Bulkhead, int MinLimit, Func<int> Limit, Func<int> InFlight, Func<int> Queued, Func<double?> Baseline)> bulkheads)
    {
        _meter.CreateObservableGauge("tally.admission.min_limit", () => bulkheads.Select(b => new Measurement<int>(b.MinLimit, new KeyValuePair<string, object?>("bulkhead", b.Bulkhead))), unit: "{request}", description: "The floor of the adaptive limit (Admission:<bulkhead>:MinLimit)");
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

    // A bus duration in seconds, with buckets from half a millisecond (a hop on loopback) to the 10 s deadline.
    private Histogram<double> BusSeconds(string name, string description) => _meter.CreateHistogram<double>(
        name,
        unit: "s",
        description: description,
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    public void CommandWaited(TimeSpan wait) => _queueWait.Record(wait.TotalSeconds);

    public void CommandReplied(object command, TimeSpan roundTrip) =>
        _roundTrip.Record(roundTrip.TotalSeconds, new KeyValuePair<string, object?>("command", command.GetType().Name));

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
