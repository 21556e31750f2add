using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Hosting;
using Tally.Server.Admission;

namespace Tally.Server.Tests.Admission;

public sealed class AdmissionControlTests
{
    private sealed class FixedDelay : IQueueDelay
    {
        public TimeSpan Standing { get; set; }
    }

    private static HttpContext Request(string method, string path)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        return context;
    }

    private static AdmissionControl Control(FixedDelay delay, TimeSpan maxQueueDelay) =>
        new(Microsoft.Extensions.Options.Options.Create(new AdmissionOptions { MaxQueueDelay = maxQueueDelay }), delay, new FakeTimeProvider());

    [Fact]
    public void AStandingThreadPoolQueue_RefusesEveryBulkhead_ButNeverTheOperationsEndpoints()
    {
        var delay = new FixedDelay { Standing = TimeSpan.FromMilliseconds(20) };
        using var control = Control(delay, TimeSpan.FromMilliseconds(5));

        foreach (var (method, path) in new[] { ("GET", "/api/account/balance"), ("POST", "/api/transfer/transfer"), ("POST", "/api/auth/login") })
        {
            using var lease = control.AttemptAcquire(Request(method, path));
            Assert.False(lease.IsAcquired, $"{method} {path}");
            Assert.True(lease.TryGetMetadata(MetadataName.ReasonPhrase, out var reason));
            Assert.Equal(AdmissionControl.RefusedByQueueDelay, reason);
            Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out _));
        }
        foreach (var path in new[] { "/health", "/ready", "/metrics", "/ws" })
        {
            using var lease = control.AttemptAcquire(Request("GET", path));
            Assert.True(lease.IsAcquired, path);
        }
    }

    [Fact]
    public void AQueueThatDrained_AdmitsAgain()
    {
        var delay = new FixedDelay { Standing = TimeSpan.FromMilliseconds(20) };
        using var control = Control(delay, TimeSpan.FromMilliseconds(5));
        using (var refused = control.AttemptAcquire(Request("GET", "/api/account/balance")))
        {
            Assert.False(refused.IsAcquired);
        }

        delay.Standing = TimeSpan.FromMilliseconds(1);

        using var admitted = control.AttemptAcquire(Request("GET", "/api/account/balance"));
        Assert.True(admitted.IsAcquired);
        Assert.Equal(1, control[Bulkhead.Read].InFlight);
    }

    [Fact]
    public void AMaxQueueDelayOfZero_TurnsTheQueueCheckOff()
    {
        var delay = new FixedDelay { Standing = TimeSpan.FromSeconds(5) };
        using var control = Control(delay, TimeSpan.Zero);
        using var lease = control.AttemptAcquire(Request("POST", "/api/transfer/transfer"));
        Assert.True(lease.IsAcquired);
    }

    [Theory]
    [InlineData("GET", "/api/account/balance", Bulkhead.Read)]
    [InlineData("HEAD", "/api/account/me", Bulkhead.Read)]
    [InlineData("GET", "/docs", Bulkhead.Read)]
    [InlineData("POST", "/api/auth/login", Bulkhead.Login)]
    [InlineData("POST", "/api/auth/token", Bulkhead.Login)]
    [InlineData("POST", "/api/auth/register", Bulkhead.Write)]
    [InlineData("POST", "/api/transfer/transfer", Bulkhead.Write)]
    [InlineData("POST", "/api/notifications/7/read", Bulkhead.Write)]
    public void Requests_GoToTheirBulkhead(string method, string path, Bulkhead expected) =>
        Assert.Equal(expected, Bulkheads.Of(Request(method, path).Request));

    [Fact]
    public void ThreadPoolDelay_OnAnIdlePool_IsSmall()
    {
        using var delay = new ThreadPoolDelay(TimeProvider.System);
        Thread.Sleep(200);
        // Other test classes run at once, so only a loose bound: an idle probe doesn't wait a second.
        Assert.True(delay.Standing < TimeSpan.FromSeconds(1), $"standing {delay.Standing}");
    }
}
