using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

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

    private readonly AdaptiveConcurrencyLimiter[] _limiters;

    public AdmissionControl(IOptions<AdmissionOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        var value = options.Value;
        var retryAfter = TimeSpan.FromSeconds(value.RetryAfterSeconds);
        _limiters = Enum.GetValues<Bulkhead>().Select(b => new AdaptiveConcurrencyLimiter(value.For(b), time, retryAfter)).ToArray();
    }

    public AdaptiveConcurrencyLimiter this[Bulkhead bulkhead] => _limiters[(int)bulkhead];

    public override RateLimiterStatistics? GetStatistics(HttpContext resource) =>
        Bulkheads.Of(resource.Request) is { } bulkhead ? this[bulkhead].GetStatistics() : null;

    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount) =>
        Bulkheads.Of(resource.Request) is { } bulkhead ? this[bulkhead].AttemptAcquire(permitCount) : s_unlimited;

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken) =>
        Bulkheads.Of(resource.Request) is { } bulkhead ? this[bulkhead].AcquireAsync(permitCount, cancellationToken) : ValueTask.FromResult(s_unlimited);

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
