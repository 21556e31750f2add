using HdrHistogram;
using System.Collections.Concurrent;
using System.Diagnostics;

namespace Tally.Load.Engine;

public enum WorkloadModel { Open, Closed }

public sealed record EngineOptions
{
    public WorkloadModel Model { get; init; } = WorkloadModel.Closed;
    /// <summary>Arrivals per second (open) or virtual users (closed), over time.</summary>
    public required LoadProfile Profile { get; init; }
    /// <summary>Open model: the workers (and connections) that serve arrivals. Closed: ignored.</summary>
    public int MaxVus { get; init; } = 256;
    public TimeSpan Think { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Completions before this are not counted (capacity steps).</summary>
    public TimeSpan Warmup { get; init; }
    public long MaxRequests { get; init; } = 50_000_000;
    /// <summary>Open model: arrivals waiting beyond this are dropped.</summary>
    public int MaxBacklog { get; init; } = 100_000;
    public Slo? Slo { get; init; }
    public bool AbortOnFail { get; init; }
    /// <summary>Grace after the last arrival for requests in flight.</summary>
    public TimeSpan Drain { get; init; } = TimeSpan.FromSeconds(5);
    public Action<LiveStatus>? OnTick { get; init; }
    /// <summary>Sees every request and every dropped arrival, with its timestamps (stress phases).</summary>
    public IRequestObserver? Observer { get; init; }
    /// <summary>
    /// This generator's share of a run split over several (agents): open model, the arrivals
    /// Index+1, Index+1+Count, ... of the profile; closed model, the users whose number is Index
    /// modulo Count. Together the shares are exactly the run of one generator.
    /// </summary>
    public Partition Partition { get; init; } = Partition.Whole;
}

/// <summary>Share <see cref="Index"/> of <see cref="Count"/>.</summary>
public readonly record struct Partition(int Index, int Count)
{
    public static Partition Whole => new(0, 1);

    public bool Owns(long k) => k % Count == Index;
}

/// <summary>Told of each request as it completes, from the workers' threads at once: it must be thread-safe.</summary>
public interface IRequestObserver
{
    /// <summary>The run starts at this Stopwatch timestamp; the profile's time 0.</summary>
    void Started(long start);

    /// <param name="origin">When the request was sent, or in the open model meant to be sent.</param>
    /// <param name="end">When it completed.</param>
    void Completed(long origin, long end, Outcome outcome);

    /// <summary><paramref name="count"/> arrivals meant for <paramref name="intended"/> were never sent (<see cref="long.MaxValue"/>: still queued at the end).</summary>
    void Dropped(long intended, long count);
}

public sealed record LiveStatus(double Elapsed, double Duration, Sample Last, Summary Total);

public sealed class EngineResult
{
    public required Summary Summary { get; init; }
    public required IReadOnlyList<Sample> Series { get; init; }
    /// <summary>The latencies behind each sample of <see cref="Series"/>, so that series from several generators merge exactly.</summary>
    public IReadOnlyList<HistogramBase> SeriesHistograms { get; init; } = [];
    public double GeneratorCpuPercent { get; init; }
    public double GeneratorCpuMaxPercent { get; init; }
    public bool Aborted { get; init; }
    public string? AbortReason { get; init; }
    public long BacklogAtEnd { get; init; }
    /// <summary>With agents: each one's share of the run, as it measured it.</summary>
    public IReadOnlyList<AgentShare> Agents { get; init; } = [];
}

/// <summary>An agent's part of a run split over several generators: what it sent, and what it cost it.</summary>
public sealed record AgentShare(string Address, int Partition, long Requests, double SharePercent, double CpuPercent, double CpuMaxPercent);

/// <summary>
/// Drives a scenario in the closed model (virtual users with think time) or the open model
/// (a constant or staged arrival rate). In the open model latency is measured from each
/// arrival's intended send time, so a stalled server cannot hide queued arrivals (wrk2).
/// Every loop is bounded by the profile's duration and by <see cref="EngineOptions.MaxRequests"/>.
/// </summary>
public sealed class LoadEngine(IScenario scenario, HttpClient client, EngineOptions options)
{
    private readonly Metrics _metrics = new(scenario.Endpoints);
    private long _issued;
    private long _backlog;
    private int _active;
    private int _vus;
    private double _target;
    private Task _workers = Task.CompletedTask;

    public Metrics Metrics => _metrics;

    /// <summary>
    /// A load generator must not wait for the thread pool's hill climbing: with its default
    /// minimum (one thread per core, 2 here) the first second of a run, when every worker is
    /// JIT-compiling the HTTP stack at once, starves the pool, arrivals queue, and the first
    /// steps of a capacity search measured the generator instead of the server.
    /// </summary>
    public static void EnsureThreads()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        var wanted = Math.Min(64, 8 * Environment.ProcessorCount);
        if (workers < wanted)
        {
            ThreadPool.SetMinThreads(wanted, Math.Max(io, wanted));
        }
    }

    public async Task<EngineResult> RunAsync(CancellationToken cancellationToken)
    {
        EnsureThreads();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var hardStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var start = Stopwatch.GetTimestamp();
        options.Observer?.Started(start);
        var duration = options.Profile.Duration.TotalSeconds;
        var warmup = Math.Clamp(options.Warmup.TotalSeconds, 0, duration);
        // Measured from exact timestamps, not from the 1 s tick, so the window is warm-up..end to the tick.
        _metrics.SetWindow(start + (long)(warmup * Stopwatch.Frequency), start + (long)(duration * Stopwatch.Frequency));
        var series = new List<Sample>();
        var seriesHistograms = new List<HistogramBase>();
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        string? abortReason = null;

        var load = options.Model == WorkloadModel.Open
            ? RunOpenAsync(start, stop.Token, hardStop.Token)
            : RunClosedAsync(start, stop.Token, hardStop.Token);

        var lastCpu = cpuStart;
        var lastTick = 0.0;
        double cpuMax = 0;
        Sample TakeSample()
        {
            var now = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var span = Math.Max(1e-3, now - lastTick);
            var cpuPercent = 100 * (cpu - lastCpu).TotalSeconds / span / Environment.ProcessorCount;
            cpuMax = Math.Max(cpuMax, cpuPercent);
            lastCpu = cpu;
            lastTick = now;
            var (h, errors) = _metrics.TakeInterval();
            var sample = new Sample(
                Math.Round(now, 3), h.TotalCount / span, errors / span,
                Ms(h, 50), Ms(h, 90), Ms(h, 99), h.TotalCount == 0 ? 0 : h.GetMaxValue() / 1000.0,
                Math.Round(_target, 2), Volatile.Read(ref _vus), Volatile.Read(ref _active), Interlocked.Read(ref _backlog), _metrics.Dropped, Math.Round(cpuPercent, 1));
            if (now > warmup)
            {
                series.Add(sample);
                seriesHistograms.Add(h);
            }
            return sample;
        }

        using (var timer = new PeriodicTimer(TimeSpan.FromSeconds(1)))
        {
            while (!load.IsCompleted)
            {
                var tick = timer.WaitForNextTickAsync(CancellationToken.None).AsTask();
                await Task.WhenAny(tick, load).ConfigureAwait(false);
                if (!tick.IsCompleted && load.IsCompleted)
                {
                    break;
                }
                var sample = TakeSample();
                var total = _metrics.Summarize(Math.Max(1e-3, Math.Min(sample.T, duration) - warmup));
                options.OnTick?.Invoke(new LiveStatus(sample.T, duration, sample, total));
                if (options.AbortOnFail && options.Slo is not null && abortReason is null && total.Requests >= 50)
                {
                    var breach = options.Slo.Evaluate(total).FirstOrDefault(v => !v.Pass);
                    if (breach is not null)
                    {
                        abortReason = $"threshold {breach.Expression} breached (actual {breach.Actual:0.###})";
                        await stop.CancelAsync().ConfigureAwait(false);
                        await hardStop.CancelAsync().ConfigureAwait(false);
                    }
                }
            }
        }
        // The last, partial second, so that the series covers the whole run.
        if (Stopwatch.GetElapsedTime(start).TotalSeconds - lastTick > 0.1)
        {
            TakeSample();
        }
        try
        {
            await load.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (abortReason is not null || cancellationToken.IsCancellationRequested)
        {
        }
        // Whatever is still in flight after the drain grace is abandoned, so no request outlives the run;
        // the workers then record those requests as unfinished before the summary is taken.
        await hardStop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _workers.WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }

        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var measured = Math.Max(1e-3, Math.Min(elapsed, duration) - warmup);
        var cpuTotal = Process.GetCurrentProcess().TotalProcessorTime - cpuStart;
        return new EngineResult
        {
            Summary = _metrics.Summarize(measured),
            Series = series,
            SeriesHistograms = seriesHistograms,
            GeneratorCpuPercent = Math.Round(100 * cpuTotal.TotalSeconds / Math.Max(1e-3, elapsed) / Environment.ProcessorCount, 1),
            GeneratorCpuMaxPercent = Math.Round(cpuMax, 1),
            Aborted = abortReason is not null,
            AbortReason = abortReason,
            BacklogAtEnd = Interlocked.Read(ref _backlog),
        };
    }

    private static double Ms(LongHistogram h, double p) => h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(p) / 1000.0;

    private async Task ExecuteOnceAsync(VuContext vu, long origin, CancellationToken ct)
    {
        Outcome outcome;
        try
        {
            outcome = await scenario.ExecuteAsync(vu, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Still in flight when the run was stopped: an error, never silently forgotten.
            outcome = Outcome.Failed(0, 0, "unfinished at the end of the run");
        }
#pragma warning disable CA1031 // a scenario bug must count as an error, not end the run
        catch (Exception e)
#pragma warning restore CA1031
        {
            outcome = Outcome.Failed(0, 0, $"exception {e.GetType().Name}");
        }
        var end = Stopwatch.GetTimestamp();
        _metrics.Record(outcome.Endpoint, origin, end, outcome.Ok, outcome.ErrorKind);
        options.Observer?.Completed(origin, end, outcome);
    }

    private void Drop(long intended, long count = 1)
    {
        _metrics.AddDropped(intended, count);
        options.Observer?.Dropped(intended, count);
    }

    /// <summary>
    /// The open model. Arrivals are timed by a dedicated thread that sleeps with sub-millisecond
    /// precision until each one is due and starts it on the spot, on that thread, when one of the
    /// <see cref="EngineOptions.MaxVus"/> slots is free; a slot that finishes takes the oldest waiting
    /// arrival itself. No hand-off sits between an arrival's intended time and its send: a thread-pool
    /// hop per arrival (a channel with reader tasks, a 1 ms polling loop) added about 2.5 ms at the
    /// median and tens of milliseconds at the tail to every latency the generator measured, while the
    /// server was idle.
    /// </summary>
    private async Task RunOpenAsync(long start, CancellationToken stop, CancellationToken hardStop)
    {
        var slots = new ConcurrentQueue<VuContext>();
        for (var i = 0; i < Math.Max(1, options.MaxVus); i++)
        {
            slots.Enqueue(new VuContext(client, i, new Random(i * 7919 + 17)));
        }
        var waiting = new ConcurrentQueue<long>();
        var running = 1;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _workers = done.Task;

        void Finish()
        {
            if (Interlocked.Decrement(ref running) == 0)
            {
                done.TrySetResult();
            }
        }

        // Serves arrivals on one slot until none is waiting: the first on the caller's thread up to
        // its first await, the rest from the completions of the ones before.
        async Task ServeAsync(VuContext vu, long intended)
        {
            try
            {
                while (true)
                {
                    Interlocked.Increment(ref _active);
                    try
                    {
                        await ExecuteOnceAsync(vu, intended, hardStop).ConfigureAwait(false);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _active);
                    }
                    if (hardStop.IsCancellationRequested || !waiting.TryDequeue(out intended))
                    {
                        break;
                    }
                    Interlocked.Decrement(ref _backlog);
                }
            }
            finally
            {
                slots.Enqueue(vu);
                // An arrival queued between this slot's last look and its release would otherwise wait for the next completion.
                Pump();
                Finish();
            }
        }

        void Start(VuContext vu, long intended)
        {
            Interlocked.Increment(ref running);
            _ = ServeAsync(vu, intended);
        }

        void Pump()
        {
            while (!hardStop.IsCancellationRequested && !waiting.IsEmpty && slots.TryDequeue(out var vu))
            {
                if (waiting.TryDequeue(out var intended))
                {
                    Interlocked.Decrement(ref _backlog);
                    Start(vu, intended);
                }
                else
                {
                    slots.Enqueue(vu);
                }
            }
        }

        void Arrive(long intended)
        {
            if (waiting.IsEmpty && slots.TryDequeue(out var vu))
            {
                Start(vu, intended);
                return;
            }
            if (Interlocked.Read(ref _backlog) >= options.MaxBacklog)
            {
                // The generator is too far behind to send it in any meaningful time.
                Drop(intended);
                return;
            }
            Interlocked.Increment(ref _backlog);
            waiting.Enqueue(intended);
            Pump();
        }

        var profile = options.Profile;
        var duration = profile.Duration.TotalSeconds;
        var total = Math.Min(options.MaxRequests, (long)Math.Floor(profile.CountAt(duration)));
        var ticksPerSecond = (double)Stopwatch.Frequency;
        var end = start + (long)(duration * ticksPerSecond);
        var dispatched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Dispatch()
        {
            try
            {
                DispatchArrivals();
            }
            finally
            {
                dispatched.TrySetResult();
            }
        }
        var partition = options.Partition;
        // The next arrival of this generator's share (1-based, of the whole profile).
        var k = partition.Index + 1L;
        void DispatchArrivals()
        {
            while (!stop.IsCancellationRequested && k <= total)
            {
                var now = Stopwatch.GetTimestamp();
                _target = profile.ValueAt((now - start) / ticksPerSecond) / partition.Count;
                var next = start + (long)(profile.TimeOfArrival(k) * ticksPerSecond);
                if (next > now)
                {
                    if (now >= end)
                    {
                        break;
                    }
                    // Wake no more often than every 200 µs (a batch of arrivals at high rates) and at least every
                    // 10 ms (to see a stop and keep the target current).
                    var wait = Math.Clamp((double)(Math.Min(next, end) - now) / ticksPerSecond, 200e-6, 10e-3);
                    PreciseSleep.For(wait);
                    continue;
                }
                _issued++;
                k += partition.Count;
                Arrive(next);
            }
        }

        var dispatcher = new Thread(Dispatch) { IsBackground = true, Name = "tally-load arrivals" };
        dispatcher.Start();
        await dispatched.Task.ConfigureAwait(false);
        Finish();
        if (await Task.WhenAny(done.Task, Task.Delay(options.Drain, CancellationToken.None)).ConfigureAwait(false) != done.Task)
        {
            // Arrivals still queued at the end were never sent: they count as dropped.
            long left = 0;
            while (waiting.TryDequeue(out _))
            {
                Interlocked.Decrement(ref _backlog);
                left++;
            }
            if (left > 0)
            {
                Drop(long.MaxValue, left);
            }
        }
        _target = 0;
    }

    private async Task RunClosedAsync(long start, CancellationToken stop, CancellationToken hardStop)
    {
        var profile = options.Profile;
        var duration = profile.Duration.TotalSeconds;
        var partition = options.Partition;
        // This generator's users: those whose number falls to its share.
        var ids = Enumerable.Range(0, (int)Math.Ceiling(profile.MaxTarget)).Where(i => partition.Owns(i)).ToArray();
        int Mine(int users) => Math.Max(0, (users - partition.Index + partition.Count - 1) / partition.Count);
        var vus = new Task[ids.Length];
        var deadline = start + (long)(duration * Stopwatch.Frequency);
        var target = (int)Math.Round(profile.ValueAt(0));
        _target = Mine(target);
        _vus = Math.Min(Mine(target), vus.Length);
        for (var i = 0; i < vus.Length; i++)
        {
            var id = ids[i];
            var vu = new VuContext(client, id, new Random(id * 7919 + 17));
            vus[i] = Task.Run(async () =>
            {
                // A user above the current target (ramping up or down) waits without sending; one
                // that is mid-request when the target falls finishes it, then stops.
                while (!stop.IsCancellationRequested && Stopwatch.GetTimestamp() < deadline)
                {
                    if (id >= Volatile.Read(ref target))
                    {
                        await Task.Delay(50, stop).ConfigureAwait(false);
                        continue;
                    }
                    if (Interlocked.Increment(ref _issued) > options.MaxRequests)
                    {
                        return;
                    }
                    Interlocked.Increment(ref _active);
                    try
                    {
                        await ExecuteOnceAsync(vu, Stopwatch.GetTimestamp(), hardStop).ConfigureAwait(false);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _active);
                    }
                    var think = vu.ThinkAfter ?? options.Think;
                    if (think > TimeSpan.Zero)
                    {
                        // Never think past the end of the run.
                        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                        if (left <= TimeSpan.Zero)
                        {
                            return;
                        }
                        await Task.Delay(think < left ? think : left, stop).ConfigureAwait(false);
                    }
                }
            }, CancellationToken.None);
        }
        var all = _workers = Task.WhenAll(vus);
        try
        {
            while (!all.IsCompleted && !stop.IsCancellationRequested)
            {
                var now = Stopwatch.GetElapsedTime(start).TotalSeconds;
                var users = (int)Math.Round(profile.ValueAt(now));
                _target = Mine(users);
                Volatile.Write(ref target, users);
                Volatile.Write(ref _vus, Math.Min(Mine(users), vus.Length));
                await Task.WhenAny(all, Task.Delay(100, stop)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        try
        {
            await all.WaitAsync(options.Timeout + options.Drain, CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (TimeoutException)
        {
        }
        _target = 0;
        _vus = 0;
    }
}
