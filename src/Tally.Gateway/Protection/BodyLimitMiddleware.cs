using Tally.Domain;

namespace Tally.Gateway.Protection;

/// <summary>
/// A declared body over the limit is refused with a 413 problem before anything is read or forwarded.
/// A chunked body is cut off by Kestrel's MaxRequestBodySize as it streams (see <c>UpstreamFailureMiddleware</c>).
/// </summary>
public sealed class BodyLimitMiddleware(RequestDelegate next, IOptions<GatewayOptions> options, GatewayMetrics metrics)
{
    private readonly long _max = options.Value.Limits.MaxBodyBytes;

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Request.ContentLength > _max)
        {
            metrics.Rejected("body_too_large");
            return GatewayProblems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge, "The request body is too large.").AsTask();
        }
        return next(context);
    }
}
