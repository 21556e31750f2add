namespace Microsoft.Extensions.Hosting;

/// <summary>How long work has been waiting, at the least, to be started: a standing queue in front of admission.</summary>
public interface IQueueDelay
{
    TimeSpan Standing { get; }
}

/// <summary>
/// How long work waits in the thread pool's queue right now: a dedicated thread queues one probe at a time and
/// measures how long it waited before it ran. Every step of every request (parsing it, the continuation after
/// each database call, writing the answer) waits that long, and the adaptive limits can't see it: they time a
/// request from its admission, and when the CPU is saturated the queue forms in front of admission. So
/// admission also refuses while the queue is <em>standing</em> (CoDel's idea): the smallest delay seen over the
/// last <see cref="Window"/> is above the target. A burst that drains within the window refuses nothing. While the
/// process is quiet (nothing queued, and hardly any work done since the last probe) the probe is not queued: its
/// wait would be zero, and waking a pool thread 100 times a second was most of what an idle process spent. A busy
/// process is always probed, even at a moment its queue looks empty: the socket engine keeps its own queue of
/// arrivals behind one work item, so an empty pool queue at one instant says nothing about the wait, and one
/// zero among the samples would hide a standing queue from the minimum.
/// </summary>
public sealed class ThreadPoolDelay : IQueueDelay, IDisposable
{
    public static readonly TimeSpan Window = TimeSpan.FromMilliseconds(100);
    // About ten probes per window: enough to see a standing queue, little enough to add no load of its own.
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(10);
    // Work items completed between two probes below which the process counts as quiet (2,000 a second).
    private const long QuietWorkItems = 20;

    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly Queue<(long At, double Seconds)> _samples = new();
    private readonly ManualResetEventSlim _ran = new(false);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Thread _thread;
    private long _outstandingSince;
    private int _disposed;

    public ThreadPoolDelay(TimeProvider time)
    {
        _time = time;
        _thread = new Thread(Run) { IsBackground = true, Name = "Tally thread-pool delay probe" };
        _thread.Start();
    }

    /// <summary>The smallest thread-pool delay over the last <see cref="Window"/>, a probe still waiting included.</summary>
    public TimeSpan Standing
    {
        get
        {
            var now = _time.GetTimestamp();
            var since = Volatile.Read(ref _outstandingSince);
            var least = since != 0 ? _time.GetElapsedTime(since, now).TotalSeconds : double.MaxValue;
            lock (_gate)
            {
                var horizon = now - (long)(Window.TotalSeconds * _time.TimestampFrequency);
                foreach (var (at, seconds) in _samples)
                {
                    if (at >= horizon && seconds < least)
                    {
                        least = seconds;
                    }
                }
            }
            return least == double.MaxValue ? TimeSpan.Zero : TimeSpan.FromSeconds(least);
        }
    }

    private void Run()
    {
        var token = _stopping.Token;
        var completed = ThreadPool.CompletedWorkItemCount;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var before = completed;
                completed = ThreadPool.CompletedWorkItemCount;
                if (ThreadPool.PendingWorkItemCount == 0 && completed - before < QuietWorkItems)
                {
                    Record(_time.GetTimestamp(), 0);
                }
                else
                {
                    _ran.Reset();
                    Volatile.Write(ref _outstandingSince, _time.GetTimestamp());
                    ThreadPool.UnsafeQueueUserWorkItem(static probe => probe.OnProbe(), this, preferLocal: false);
                    _ran.Wait(token);
                }
                token.WaitHandle.WaitOne(s_interval);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void OnProbe()
    {
        var now = _time.GetTimestamp();
        var since = Interlocked.Exchange(ref _outstandingSince, 0);
        if (since != 0)
        {
            Record(now, _time.GetElapsedTime(since, now).TotalSeconds);
        }
        _ran.Set();
    }

    private void Record(long now, double seconds)
    {
        lock (_gate)
        {
            _samples.Enqueue((now, seconds));
            var horizon = now - (long)(Window.TotalSeconds * _time.TimestampFrequency);
            while (_samples.Count > 0 && _samples.Peek().At < horizon)
            {
                _samples.Dequeue();
            }
        }
    }

    public void Dispose()
    {
        // The container disposes it once per registration that resolves it; only the first call acts.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        _thread.Join(TimeSpan.FromSeconds(1));
        _stopping.Dispose();
        _ran.Dispose();
    }
}
