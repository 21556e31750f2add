using System.Threading.RateLimiting;

namespace Tally.Server.Admission;

/// <summary>
/// A <see cref="RateLimiter"/> (System.Threading.RateLimiting, so ASP.NET Core's rate-limiting middleware runs
/// it) whose permit count is a <see cref="LatencyLimit"/>: a lease is one request in flight, and disposing it
/// reports how long the request took. At the limit a request may wait in a short FIFO queue, bounded in length
/// and in time; past either it is refused, with the reason and a <c>Retry-After</c> in the lease's metadata.
/// </summary>
public sealed class AdaptiveConcurrencyLimiter : RateLimiter
{
    public const string RefusedByLimit = "limit";
    public const string RefusedByQueueTimeout = "queue_timeout";

    private readonly object _gate = new();
    private readonly BulkheadOptions _options;
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly LatencyLimit _limit;
    private readonly LinkedList<Waiter> _queue = new();
    private readonly RateLimitLease _refusedByLimit;
    private readonly RateLimitLease _refusedByQueueTimeout;
    private int _inFlight;
    private long _admitted;
    private long _refused;
    private bool _disposed;

    public AdaptiveConcurrencyLimiter(BulkheadOptions options, TimeProvider time, TimeSpan retryAfter)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        _options = options;
        _time = time;
        _started = time.GetTimestamp();
        _limit = new LatencyLimit(options, TimeSpan.Zero);
        _refusedByLimit = new RefusedLease(RefusedByLimit, retryAfter);
        _refusedByQueueTimeout = new RefusedLease(RefusedByQueueTimeout, retryAfter);
    }

    public int Limit
    {
        get
        {
            lock (_gate)
            {
                return _limit.Current;
            }
        }
    }

    public int InFlight => Volatile.Read(ref _inFlight);

    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>The lowest recent window latency the limit compares against (seconds), for /metrics.</summary>
    public double? BaselineSeconds
    {
        get
        {
            lock (_gate)
            {
                return _limit.Baseline;
            }
        }
    }

    // Never idle: the limit it learned is its state, so nothing may dispose it as an idle partition.
    public override TimeSpan? IdleDuration => null;

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_gate)
        {
            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = Math.Max(0, _limit.Current - _inFlight),
                CurrentQueuedCount = _queue.Count,
                TotalSuccessfulLeases = _admitted,
                TotalFailedLeases = _refused,
            };
        }
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        CheckPermitCount(permitCount);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (permitCount == 0)
            {
                return _inFlight < _limit.Current ? SampledLease.Empty : _refusedByLimit;
            }
            if (_queue.Count == 0 && _inFlight < _limit.Current)
            {
                return AdmitLocked();
            }
            _refused++;
            return _refusedByLimit;
        }
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        CheckPermitCount(permitCount);
        Waiter waiter;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (permitCount == 0)
            {
                return ValueTask.FromResult(_inFlight < _limit.Current ? SampledLease.Empty : _refusedByLimit);
            }
            if (_queue.Count == 0 && _inFlight < _limit.Current)
            {
                return ValueTask.FromResult(AdmitLocked());
            }
            if (_queue.Count >= _options.QueueLimit || _options.QueueTimeout <= TimeSpan.Zero)
            {
                _refused++;
                return ValueTask.FromResult(_refusedByLimit);
            }
            waiter = new Waiter(this);
            waiter.Node = _queue.AddLast(waiter);
        }
        waiter.Start(_options.QueueTimeout, _time, cancellationToken);
        return new ValueTask<RateLimitLease>(waiter.Completion.Task);
    }

    private RateLimitLease AdmitLocked()
    {
        _inFlight++;
        _admitted++;
        return new SampledLease(this, _time.GetTimestamp(), _inFlight);
    }

    private void Release(long admittedAt, int inFlightAtAdmission)
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            _inFlight--;
            _limit.Record(_time.GetElapsedTime(admittedAt, now), inFlightAtAdmission, _time.GetElapsedTime(_started, now));
            while (_queue.First is { } first && _inFlight < _limit.Current)
            {
                _queue.RemoveFirst();
                first.Value.Node = null;
                if (!first.Value.TryGrant(AdmitLocked()))
                {
                    // It timed out or was cancelled at this very moment: give the slot back.
                    _inFlight--;
                    _admitted--;
                }
            }
        }
    }

    // A waiter's time ran out or its caller went away: out of the queue, refused (or cancelled).
    private void Abandon(Waiter waiter, bool timedOut, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (waiter.Node is null)
            {
                return;
            }
            _queue.Remove(waiter.Node);
            waiter.Node = null;
            _refused++;
        }
        if (timedOut)
        {
            waiter.Completion.TrySetResult(_refusedByQueueTimeout);
        }
        else
        {
            waiter.Completion.TrySetCanceled(cancellationToken);
        }
    }

    private static void CheckPermitCount(int permitCount)
    {
        if (permitCount is not (0 or 1))
        {
            throw new ArgumentOutOfRangeException(nameof(permitCount), permitCount, "A request takes one permit.");
        }
    }

    protected override void Dispose(bool disposing)
    {
        List<Waiter> waiting;
        lock (_gate)
        {
            _disposed = true;
            waiting = [.. _queue];
            _queue.Clear();
        }
        foreach (var waiter in waiting)
        {
            waiter.Node = null;
            waiter.Completion.TrySetResult(_refusedByLimit);
            waiter.Dispose();
        }
        base.Dispose(disposing);
    }

    private sealed class Waiter(AdaptiveConcurrencyLimiter limiter) : IDisposable
    {
        private CancellationTokenSource? _timeout;
        private CancellationTokenRegistration _timedOut;
        private CancellationTokenRegistration _cancelled;

        public LinkedListNode<Waiter>? Node { get; set; }

        public TaskCompletionSource<RateLimitLease> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Start(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
        {
            _timeout = new CancellationTokenSource(timeout, time);
            _timedOut = _timeout.Token.UnsafeRegister(static state => ((Waiter)state!).Expire(), this);
            if (cancellationToken.CanBeCanceled)
            {
                _cancelled = cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).Cancel(token), this);
            }
            Completion.Task.ContinueWith(static (_, state) => ((Waiter)state!).Dispose(), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        public bool TryGrant(RateLimitLease lease) => Completion.TrySetResult(lease);

        private void Expire() => limiter.Abandon(this, timedOut: true, CancellationToken.None);

        private void Cancel(CancellationToken token) => limiter.Abandon(this, timedOut: false, token);

        public void Dispose()
        {
            _timedOut.Dispose();
            _cancelled.Dispose();
            _timeout?.Dispose();
        }
    }

    /// <summary>One admitted request; disposing it (once) frees the slot and reports the request's latency.</summary>
    private sealed class SampledLease(AdaptiveConcurrencyLimiter? limiter, long admittedAt, int inFlight) : RateLimitLease
    {
        public static readonly SampledLease Empty = new(null, 0, 0);

        private int _released;

        public override bool IsAcquired => true;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (limiter is not null && Interlocked.Exchange(ref _released, 1) == 0)
            {
                limiter.Release(admittedAt, inFlight);
            }
        }
    }

    /// <summary>A refusal: its reason (<see cref="MetadataName.ReasonPhrase"/>) and <see cref="MetadataName.RetryAfter"/>.</summary>
    internal sealed class RefusedLease(string reason, TimeSpan retryAfter) : RateLimitLease
    {
        public override bool IsAcquired => false;

        public override IEnumerable<string> MetadataNames => [MetadataName.ReasonPhrase.Name, MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = metadataName == MetadataName.ReasonPhrase.Name ? reason
                : metadataName == MetadataName.RetryAfter.Name ? retryAfter
                : null;
            return metadata is not null;
        }

        // Shared by every refusal: nothing to release.
        protected override void Dispose(bool disposing)
        {
        }
    }
}
