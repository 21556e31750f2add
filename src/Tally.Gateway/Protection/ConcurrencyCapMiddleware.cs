using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Tally.Domain;

namespace Tally.Gateway.Protection;

/// <summary>
/// Caps the requests in flight with a <see cref="ConcurrencyLimiter"/> and a small queue: a request that
/// finds the queue full is answered 503 at once, and one that waits longer than the queue timeout gets 503
/// too (after <see cref="LimitsOptions.QueueTimeout"/>, or sooner when the request's deadline is nearer), with Retry-After,
/// so a flood can't pile up without bound in front of the instances. WebSocket sessions and the
/// operations endpoints are not counted (a socket would hold its slot for hours). While the gateway's own
/// thread-pool queue stands above <see cref="LimitsOptions.MaxQueueDelay"/> (<see cref="ThreadPoolDelay"/>), every
/// new request is refused at once: its CPU is saturated, and what it forwarded would only wait.
/// </summary>
public sealed class ConcurrencyCapMiddleware : IDisposable
{
    private readonly RequestDelegate _next;
    private readonly ConcurrencyLimiter _limiter;
    private readonly TimeSpan _queueTimeout;
    private readonly GatewayMetrics _metrics;
    private readonly IQueueDelay _delay;
    private readonly TimeSpan _maxQueueDelay;

    public ConcurrencyCapMiddleware(RequestDelegate next, IOptions<GatewayOptions> options, GatewayMetrics metrics, IQueueDelay delay)
    {
        ArgumentNullException.ThrowIfNull(options);
        _next = next;
        _metrics = metrics;
        _delay = delay;
        var limits = options.Value.Limits;
        _maxQueueDelay = limits.MaxQueueDelay;
        _queueTimeout = limits.QueueTimeout;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = limits.MaxConcurrentRequests,
            QueueLimit = limits.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (ServiceDefaultsExtensions.IsOperationsPath(context.Request.Path)
            || context.Features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true)
        {
            return _next(context);
        }
        if (_maxQueueDelay > TimeSpan.Zero && _delay.Standing > _maxQueueDelay)
        {
            // The gateway's own thread pool has a standing queue: refuse at once rather than forward late.
            return RefuseAsync(context, "queue_delay", "The gateway is at capacity; retry shortly.").AsTask();
        }
        var lease = _limiter.AttemptAcquire();
        return lease.IsAcquired ? RunAsync(context, lease) : WaitThenRunAsync(context, lease);
    }

    private async Task RunAsync(HttpContext context, RateLimitLease lease)
    {
        using (lease)
        {
            await _next(context);
        }
    }

    private async Task WaitThenRunAsync(HttpContext context, RateLimitLease refused)
    {
        refused.Dispose();
        RateLimitLease lease;
        using (var wait = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted))
        {
            var remaining = context.Features.Get<RequestDeadline>()?.Remaining ?? _queueTimeout;
            wait.CancelAfter(remaining < _queueTimeout ? TimeSpan.FromTicks(Math.Max(remaining.Ticks, 1)) : _queueTimeout);
            try
            {
                lease = await _limiter.AcquireAsync(1, wait.Token);
            }
            catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
            {
                await RefuseAsync(context, "queue_timeout", "The gateway is at capacity and the request waited too long; retry shortly.");
                return;
            }
        }
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            await RefuseAsync(context, "queue_full", "The gateway is at capacity; retry shortly.");
            return;
        }
        await RunAsync(context, lease);
    }

    private ValueTask RefuseAsync(HttpContext context, string reason, string detail)
    {
        _metrics.Rejected(reason);
        return GatewayProblems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, ErrorCodes.GatewayOverloaded, detail, retryAfterSeconds: 1);
    }

    public void Dispose() => _limiter.Dispose();
}
