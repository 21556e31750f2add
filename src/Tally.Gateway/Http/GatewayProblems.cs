using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Tally.Domain;

namespace Tally.Gateway.Http;

/// <summary>The gateway's own refusals, as RFC 9457 problems with an <c>error_code</c> and a <c>trace_id</c>, like Tally's.</summary>
public static class GatewayProblems
{
    public static WebApplicationBuilder AddGatewayProblems(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = Customize);
        builder.Services.AddExceptionHandler<GatewayExceptionHandler>();
        return builder;
    }

    /// <summary>Writes a problem unless the response has started; <paramref name="retryAfterSeconds"/> adds Retry-After.</summary>
    public static ValueTask WriteAsync(HttpContext context, int status, string code, string detail, int retryAfterSeconds = 0)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Response.HasStarted)
        {
            return ValueTask.CompletedTask;
        }
        context.Response.Clear();
        context.Response.StatusCode = status;
        if (retryAfterSeconds > 0)
        {
            context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        return problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Detail = detail, Extensions = { ["error_code"] = code } },
        });
    }

    private static void Customize(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        problem.Extensions.TryAdd("error_code", status switch
        {
            413 => ErrorCodes.PayloadTooLarge,
            429 => ErrorCodes.RateLimited,
            >= 500 => ErrorCodes.InternalError,
            _ => ErrorCodes.InvalidRequest,
        });
        problem.Detail ??= status >= 500 ? "An unexpected error occurred in the gateway." : "The request is not valid.";
        problem.Type ??= "about:blank";
        problem.Extensions["trace_id"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
        problem.Extensions.Remove("traceId");
        problem.Extensions.Remove("requestId");
        problem.Extensions.Remove("exception");
        problem.Instance = null;
    }
}

/// <summary>An exception in the gateway itself: a Kestrel limit is a 4xx problem, anything else a 500 without internal text.</summary>
public sealed class GatewayExceptionHandler(ILogger<GatewayExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is BadHttpRequestException bad)
        {
            var (code, detail) = bad.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? (ErrorCodes.PayloadTooLarge, "The request body is too large.")
                : (ErrorCodes.InvalidRequest, "The request is not valid.");
            await GatewayProblems.WriteAsync(httpContext, bad.StatusCode, code, detail);
            return true;
        }
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            return true;
        }
        logger.LogError(exception, "Gateway request failed");
        await GatewayProblems.WriteAsync(httpContext, StatusCodes.Status500InternalServerError, ErrorCodes.InternalError, "An unexpected error occurred in the gateway.");
        return true;
    }
}
