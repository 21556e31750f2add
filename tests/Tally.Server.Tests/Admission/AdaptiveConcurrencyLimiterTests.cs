using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;
using Tally.Server.Admission;

namespace Tally.Server.Tests.Admission;

public sealed class AdaptiveConcurrencyLimiterTests
{
    private static AdaptiveConcurrencyLimiter Limiter(FakeTimeProvider time, int limit = 2, int queue = 0, int queueMs = 10) => new(
        new BulkheadOptions { InitialLimit = limit, MinLimit = 1, MaxLimit = limit, QueueLimit = queue, QueueTimeout = TimeSpan.FromMilliseconds(queueMs) },
        time,
        TimeSpan.FromSeconds(1));

    [Fact]
    public void Requests_UpToTheLimit_AreAdmitted_AndTheNextIsRefusedWithReasonAndRetryAfter()
    {
        var time = new FakeTimeProvider();
        using var limiter = Limiter(time);
        using var first = limiter.AttemptAcquire();
        using var second = limiter.AttemptAcquire();
        using var third = limiter.AttemptAcquire();

        Assert.True(first.IsAcquired);
        Assert.True(second.IsAcquired);
        Assert.False(third.IsAcquired);
        Assert.True(third.TryGetMetadata(MetadataName.ReasonPhrase, out var reason));
        Assert.Equal(AdaptiveConcurrencyLimiter.RefusedByLimit, reason);
        Assert.True(third.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(1), retryAfter);
        Assert.Equal(2, limiter.InFlight);
        Assert.Equal(1, limiter.GetStatistics()!.TotalFailedLeases);
    }

    [Fact]
    public void ReleasingALease_FreesItsSlot_OnlyOnce()
    {
        var time = new FakeTimeProvider();
        using var limiter = Limiter(time);
        var first = limiter.AttemptAcquire();
        using var second = limiter.AttemptAcquire();
        first.Dispose();
        first.Dispose();
        Assert.Equal(1, limiter.InFlight);
        using var third = limiter.AttemptAcquire();
        using var fourth = limiter.AttemptAcquire();
        Assert.True(third.IsAcquired);
        Assert.False(fourth.IsAcquired);
    }

    [Fact]
    public async Task AQueuedRequest_GetsTheNextFreeSlot()
    {
        var time = new FakeTimeProvider();
        using var limiter = Limiter(time, limit: 1, queue: 4);
        var first = limiter.AttemptAcquire();
        var waiting = limiter.AcquireAsync(1).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, limiter.Queued);

        first.Dispose();
        using var lease = await waiting.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(lease.IsAcquired);
        Assert.Equal(1, limiter.InFlight);
        Assert.Equal(0, limiter.Queued);
    }

    [Fact]
    public async Task AQueuedRequest_PastTheQueueTimeout_IsRefused()
    {
        var time = new FakeTimeProvider();
        using var limiter = Limiter(time, limit: 1, queue: 4, queueMs: 10);
        using var first = limiter.AttemptAcquire();
        var waiting = limiter.AcquireAsync(1).AsTask();

        time.Advance(TimeSpan.FromMilliseconds(11));
        using var lease = await waiting.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(MetadataName.ReasonPhrase, out var reason));
        Assert.Equal(AdaptiveConcurrencyLimiter.RefusedByQueueTimeout, reason);
        Assert.Equal(0, limiter.Queued);
        Assert.Equal(1, limiter.InFlight);
    }

    [Fact]
    public async Task AFullQueue_RefusesAtOnce()
    {
        var time = new FakeTimeProvider();
        using var limiter = Limiter(time, limit: 1, queue: 1);
        using var first = limiter.AttemptAcquire();
        var waiting = limiter.AcquireAsync(1).AsTask();
        var refused = limiter.AcquireAsync(1);

        Assert.True(refused.IsCompleted);
        Assert.False((await refused).IsAcquired);
        Assert.False(waiting.IsCompleted);
    }

    [Fact]
    public async Task AWaiterWhoseCallerLeaves_IsRemovedFromTheQueue()
    {
        var time = new FakeTimeProvider();
        using var limiter = Limiter(time, limit: 1, queue: 4, queueMs: 1000);
        var first = limiter.AttemptAcquire();
        using var gone = new CancellationTokenSource();
        var waiting = limiter.AcquireAsync(1, gone.Token).AsTask();

        await gone.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, limiter.Queued);
        first.Dispose();
        Assert.Equal(0, limiter.InFlight);
    }

    [Fact]
    public void Latency_MeasuredOnRelease_DrivesTheLimitDown()
    {
        var time = new FakeTimeProvider();
        var options = new BulkheadOptions
        {
            InitialLimit = 64,
            MinLimit = 2,
            MaxLimit = 64,
            Window = TimeSpan.FromMilliseconds(100),
            MinSamples = 4,
            Headroom = TimeSpan.FromMilliseconds(1),
        };
        using var limiter = new AdaptiveConcurrencyLimiter(options, time, TimeSpan.FromSeconds(1));

        void Round(TimeSpan latency)
        {
            var leases = Enumerable.Range(0, 8).Select(_ => limiter.AttemptAcquire()).ToList();
            time.Advance(latency);
            leases.ForEach(l => l.Dispose());
            time.Advance(TimeSpan.FromMilliseconds(100));
        }

        Round(TimeSpan.FromMilliseconds(2));
        Round(TimeSpan.FromMilliseconds(2));
        Assert.Equal(64, limiter.Limit);
        Round(TimeSpan.FromMilliseconds(50));
        Round(TimeSpan.FromMilliseconds(50));
        Assert.True(limiter.Limit < 64, $"limit {limiter.Limit}");
    }
}
