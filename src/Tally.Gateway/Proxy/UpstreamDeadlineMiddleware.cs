using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;
using Tally.Domain;
using Yarp.ReverseProxy.Forwarder;

namespace Tally.Gateway.Proxy;

/// <summary>
/// Just before each forwarding attempt (a retry included): tells the instance how much of the request's deadline is
/// left, as a <c>Request-Timeout</c> header that replaces the client's, so that the instance's deadline is end to end;
/// a request with nothing left is answered 504 <c>DEADLINE_EXCEEDED</c> and not sent. A WebSocket upgrade has no
/// deadline: it keeps the client's headers and waits up to <see cref="LimitsOptions.WebSocketIdleTimeout"/> for activity
/// instead of the cluster's <see cref="LimitsOptions.UpstreamTimeout"/>.
/// </summary>
public sealed class UpstreamDeadlineMiddleware(RequestDelegate next, IOptions<GatewayOptions> options, GatewayMetrics metrics)
{
    private readonly TimeSpan _webSocketIdle = options.Value.Limits.WebSocketIdleTimeout;
    private readonly ConditionalWeakTable<ClusterModel, ClusterModel> _webSocketModels = new();

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true)
        {
            UseWebSocketTimeout(context);
            return next(context);
        }
        var deadline = context.Features.Get<RequestDeadline>();
        if (deadline is not null)
        {
            var remaining = deadline.Remaining;
            if (remaining < TimeSpan.FromMilliseconds(1))
            {
                metrics.Rejected("deadline");
                return GatewayProblems.WriteAsync(context, StatusCodes.Status504GatewayTimeout, ErrorCodes.DeadlineExceeded,
                    "The request's deadline passed before an instance could take it.").AsTask();
            }
            context.Request.Headers[RequestDeadline.Header] = RequestDeadline.Format(remaining);
        }
        return next(context);
    }

    // The activity timeout is the cluster's; the feature's cluster model is replaceable per request, so an upgrade gets a
    // copy of it (made once per model) with the WebSocket's idle limit.
    private void UseWebSocketTimeout(HttpContext context)
    {
        if (context.GetReverseProxyFeature() is not ReverseProxyFeature feature)
        {
            return;
        }
        feature.Cluster = _webSocketModels.GetValue(feature.Cluster, model => new ClusterModel(
            model.Config with { HttpRequest = (model.Config.HttpRequest ?? ForwarderRequestConfig.Empty) with { ActivityTimeout = _webSocketIdle } },
            model.HttpClient));
    }
}
