using System.Threading.RateLimiting;

namespace Tally.Server.Admission;

/// <summary>
/// The instance's admission control as one <see cref="PartitionedRateLimiter{TResource}"/> over requests:
/// each request goes to its <see cref="Bulkhead"/>'s <see cref="AdaptiveConcurrencyLimiter"/>, and what has
/// no bulkhead (operations endpoints, /ws) is never limited. ASP.NET Core's rate-limiting middleware runs it
/// as its global limiter.
/// </summary>
public sealed class AdmissionControl : PartitionedRateLimiter<HttpContext>
{
    private static readonly RateLimitLease s_unlimited = new UnlimitedLease();

    public const string RefusedByQueueDelay = "queue_delay";

    private readonly AdaptiveConcurrencyLimiter[] _limiters;
    private readonly IQueueDelay _delay;
    private readonly TimeSpan _maxQueueDelay;
    private readonly RateLimitLease _refusedByQueueDelay;

    public AdmissionControl(IOptions<AdmissionOptions> options, IQueueDelay delay, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        var value = options.Value;
        var retryAfter = TimeSpan.FromSeconds(value.RetryAfterSeconds);
        _limiters = Enum.GetValues<Bulkhead>().Select(b => new AdaptiveConcurrencyLimiter(value.For(b), time, retryAfter)).ToArray();
        _delay = delay;
        _maxQueueDelay = value.MaxQueueDelay;
        _refusedByQueueDelay = new AdaptiveConcurrencyLimiter.RefusedLease(RefusedByQueueDelay, retryAfter);
    }

    // The CPU can't keep up with what arrives: every queued step of every request waits, whatever the limits.
    private bool QueueIsStanding => _maxQueueDelay > TimeSpan.Zero && _delay.Standing > _maxQueueDelay;

    public AdaptiveConcurrencyLimiter this[Bulkhead bulkhead] => _limiters[(int)bulkhead];

    public override RateLimiterStatistics? GetStatistics(HttpContext resource) =>
        Bulkheads.Of(resource.Request) is { } bulkhead ? this[bulkhead].GetStatistics() : null;

    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount) =>
        Bulkheads.Of(resource.Request) is not { } bulkhead ? s_unlimited
        : QueueIsStanding ? _refusedByQueueDelay
        : this[bulkhead].AttemptAcquire(permitCount);

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken) =>
        Bulkheads.Of(resource.Request) is not { } bulkhead ? ValueTask.FromResult(s_unlimited)
        : QueueIsStanding ? ValueTask.FromResult(_refusedByQueueDelay)
        : this[bulkhead].AcquireAsync(permitCount, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var limiter in _limiters)
            {
                limiter.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    private sealed class UnlimitedLease : RateLimitLease
    {
        public override bool IsAcquired => true;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}
