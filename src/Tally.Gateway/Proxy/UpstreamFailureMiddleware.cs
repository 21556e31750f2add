using System.Net.Http;
using Tally.Domain;
using Yarp.ReverseProxy.Forwarder;

namespace Tally.Gateway.Proxy;

/// <summary>
/// First step of YARP's proxy pipeline, ahead of load balancing and passive health checks. YARP has no
/// built-in retry, so when a forwarding attempt fails before any of the response reached the client, an
/// idempotent request is sent once more, to another instance:
/// a GET, HEAD or OPTIONS after any failure to get the response headers, and a POST transfer carrying an
/// <c>Idempotency-Key</c> (the instance replays the first outcome) only when it could not connect. The
/// passive health check still sees the failed attempt. A failure that remains becomes a problem with an
/// <c>error_code</c> instead of YARP's empty 502.
/// </summary>
public sealed class UpstreamFailureMiddleware(RequestDelegate next, GatewayMetrics metrics)
{
    private const string IdempotencyKeyHeader = "Idempotency-Key";

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var readOnly = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method);
        var keyedTransfer = !readOnly
            && HttpMethods.IsPost(request.Method)
            && request.Headers.ContainsKey(IdempotencyKeyHeader)
            && request.Path.Equals("/api/transfer/transfer", StringComparison.OrdinalIgnoreCase);
        if (keyedTransfer)
        {
            // The body must be replayable for the second attempt; it is small (the body limit caps it).
            request.EnableBuffering();
        }

        var proxy = context.GetReverseProxyFeature();
        var candidates = proxy.AvailableDestinations;
        await next(context);

        var error = context.Features.Get<IForwarderErrorFeature>();
        if (error is null)
        {
            return;
        }
        metrics.UpstreamError(error.Error.ToString());
        if (!context.Response.HasStarted && ShouldRetry(error, readOnly, keyedTransfer) && TryExclude(candidates, proxy.ProxiedDestination, out var others))
        {
            metrics.Retried();
            context.Features.Set<IForwarderErrorFeature>(null);
            context.Response.Clear();
            if (keyedTransfer)
            {
                request.Body.Position = 0;
            }
            proxy.AvailableDestinations = others;
            proxy.ProxiedDestination = null;
            await next(context);
            error = context.Features.Get<IForwarderErrorFeature>();
            if (error is null)
            {
                return;
            }
            metrics.UpstreamError(error.Error.ToString());
        }
        await WriteProblemAsync(context, error);
    }

    private static bool ShouldRetry(IForwarderErrorFeature error, bool readOnly, bool keyedTransfer)
    {
        if (error.Error != ForwarderError.Request)
        {
            return false;
        }
        if (readOnly)
        {
            return true;
        }
        return keyedTransfer && IsConnectFailure(error.Exception);
    }

    private static bool IsConnectFailure(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError })
            {
                return true;
            }
        }
        return false;
    }

    private static bool IsBodyTooLarge(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
            {
                return true;
            }
        }
        return false;
    }

    private static bool TryExclude(IReadOnlyList<DestinationState> candidates, DestinationState? failed, out IReadOnlyList<DestinationState> others)
    {
        var rest = new List<DestinationState>(candidates.Count);
        foreach (var destination in candidates)
        {
            if (!ReferenceEquals(destination, failed))
            {
                rest.Add(destination);
            }
        }
        others = rest;
        return rest.Count > 0;
    }

    private static ValueTask WriteProblemAsync(HttpContext context, IForwarderErrorFeature error)
    {
        if (IsBodyTooLarge(error.Exception))
        {
            return GatewayProblems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge, "The request body is too large.");
        }
        return error.Error switch
        {
            ForwarderError.NoAvailableDestinations => GatewayProblems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                ErrorCodes.NoHealthyUpstream, "No healthy instance is available; retry shortly.", retryAfterSeconds: 1),
            ForwarderError.RequestTimedOut => GatewayProblems.WriteAsync(context, StatusCodes.Status504GatewayTimeout,
                ErrorCodes.UpstreamTimeout, "The instance did not answer in time; the outcome is unknown (a retry with the same Idempotency-Key is safe)."),
            ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.RequestBodyClient
                when context.RequestAborted.IsCancellationRequested => ValueTask.CompletedTask,
            ForwarderError.RequestBodyClient => GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest,
                ErrorCodes.InvalidRequest, "The request body could not be read."),
            _ => GatewayProblems.WriteAsync(context, StatusCodes.Status502BadGateway,
                ErrorCodes.UpstreamUnavailable, "The instance could not be reached or failed to answer; retry shortly."),
        };
    }
}
