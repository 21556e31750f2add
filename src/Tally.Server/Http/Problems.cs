using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Tally.Server.Http;

/// <summary>Builds RFC 9457 problems with Tally's <c>error_code</c> and <c>trace_id</c>.</summary>
public static class Problems
{
    public static ProblemHttpResult From(DomainError error) => Create(error.Status, error.Code, error.Detail);

    public static ProblemHttpResult Create(int status, string code, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, extensions: new Dictionary<string, object?> { ["error_code"] = code });

    public static ProblemHttpResult BadRequest(string code, string detail) => Create(StatusCodes.Status400BadRequest, code, detail);

    /// <summary>The default code and sentence for a status that no handler described.</summary>
    public static (string Code, string Detail) Describe(int status) => status switch
    {
        400 => (ErrorCodes.InvalidRequest, "The request is not valid."),
        401 => (ErrorCodes.Unauthenticated, "A valid session is required."),
        403 => (ErrorCodes.AdminForbidden, "You may not do this."),
        404 => (ErrorCodes.NotFound, "There is nothing at this address."),
        405 => (ErrorCodes.MethodNotAllowed, "This method is not allowed on this address."),
        413 => (ErrorCodes.PayloadTooLarge, "The request body is too large."),
        415 => (ErrorCodes.UnsupportedMediaType, "The request body must be JSON (application/json)."),
        429 => (ErrorCodes.RateLimited, "Too many requests; retry later."),
        503 => (ErrorCodes.ServiceUnavailable, "The service is temporarily unavailable; retry later."),
        504 => (ErrorCodes.DeadlineExceeded, "The request was not processed in time."),
        _ when status >= 500 => (ErrorCodes.InternalError, "An unexpected error occurred."),
        _ => (ErrorCodes.InvalidRequest, "The request could not be processed."),
    };

    /// <summary>Adds <c>trace_id</c> to every problem, and a code and sentence to those the framework wrote.</summary>
    public static void Customize(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        var (code, detail) = Describe(status);
        problem.Extensions.TryAdd("error_code", code);
        problem.Detail ??= detail;
        // ASP.NET Core knows no type for some statuses (413, 429); RFC 9457 reads an absent type as about:blank.
        problem.Type ??= "about:blank";
        problem.Extensions["trace_id"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
        problem.Extensions.Remove("traceId");
        problem.Extensions.Remove("requestId");
        problem.Extensions.Remove("exception");
        problem.Extensions.Remove("errors");
        problem.Instance = null;
    }
}

/// <summary>Maps every exception to a problem. Internal exception text never reaches the client.</summary>
public sealed class TallyExceptionHandler(IProblemDetailsService problems, ILogger<TallyExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, code, detail) = exception switch
        {
            BadHttpRequestException bad => Classify(bad),
            InvalidDataException => (StatusCodes.Status400BadRequest, ErrorCodes.InvalidRequest, "The request body could not be read."),
            DomainException domain => (domain.Error.Status, domain.Error.Code, domain.Error.Detail),
            CommandQueueFullException full => (StatusCodes.Status503ServiceUnavailable, ErrorCodes.QueueFull, $"Too many requests are waiting; retry in {full.RetryAfterSeconds} s."),
            CommandDeadlineExceededException => (StatusCodes.Status504GatewayTimeout, ErrorCodes.DeadlineExceeded, "The request was not processed in time and was dropped; nothing was applied."),
            CommandBusUnavailableException unavailable => (StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, $"The command bus is unavailable; nothing was sent. Retry in {unavailable.RetryAfterSeconds} s."),
            OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested => (499, ErrorCodes.InvalidRequest, "The client closed the request."),
            CommandStoreUnavailableException => (StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The database is unavailable; retry in a moment (a retry with the same Idempotency-Key is safe)."),
            _ when Storage.DatabaseFailures.IsUnavailable(exception) => (StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The database is unavailable; retry in a moment (a retry with the same Idempotency-Key is safe)."),
            _ => (StatusCodes.Status500InternalServerError, ErrorCodes.InternalError, "An unexpected error occurred."),
        };
        if (status >= 500)
        {
            logger.LogError(exception, "Request failed with {Status} {ErrorCode}", status, code);
        }
        if (exception is CommandQueueFullException queueFull)
        {
            httpContext.Response.Headers.RetryAfter = queueFull.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (exception is CommandBusUnavailableException busDown)
        {
            httpContext.Response.Headers.RetryAfter = busDown.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (status == StatusCodes.Status503ServiceUnavailable)
        {
            httpContext.Response.Headers.RetryAfter = "1";
        }
        if (httpContext.Response.HasStarted)
        {
            return true;
        }
        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = status, Detail = detail, Extensions = { ["error_code"] = code } },
        });
    }

    private static (int Status, string Code, string Detail) Classify(BadHttpRequestException bad)
    {
        if (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (413, ErrorCodes.PayloadTooLarge, "The request body is too large.");
        }
        if (bad.StatusCode == StatusCodes.Status415UnsupportedMediaType)
        {
            return (415, ErrorCodes.UnsupportedMediaType, "The request body must be JSON (application/json).");
        }
        if (bad.InnerException is JsonException)
        {
            return (400, ErrorCodes.MalformedJson, "The request body is not valid JSON of the expected shape.");
        }
        if (bad.Message.Contains("body", StringComparison.OrdinalIgnoreCase) && bad.Message.Contains("required", StringComparison.OrdinalIgnoreCase))
        {
            return (400, ErrorCodes.MissingBody, "A JSON request body is required.");
        }
        return (bad.StatusCode, ErrorCodes.InvalidRequest, "The request is not valid.");
    }
}
