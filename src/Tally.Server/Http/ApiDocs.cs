using Microsoft.AspNetCore.Mvc;

namespace Tally.Server.Http;

/// <summary>The <c>error_code</c>s that an endpoint can answer with one status; the OpenAPI document lists them as an enum.</summary>
public sealed record ErrorCodesMetadata(int Status, IReadOnlyList<string> Codes);

/// <summary>Marks an endpoint that needs the <c>X-Admin-Secret</c> header instead of a session.</summary>
public sealed record AdminSecretMetadata;

/// <summary>Marks an endpoint that takes <c>Idempotency-Key</c> and may answer <c>Idempotent-Replayed: true</c>.</summary>
public sealed record IdempotentMetadata;

/// <summary>Endpoint metadata that the OpenAPI document is built from: the problems each endpoint can answer.</summary>
public static class ApiDocs
{
    public const string ProblemContentType = "application/problem+json";

    /// <summary>The endpoint can answer <paramref name="status"/> as a problem with one of <paramref name="codes"/>.</summary>
    public static TBuilder ProducesErrors<TBuilder>(this TBuilder builder, int status, params string[] codes)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithMetadata(
            new ProducesResponseTypeMetadata(status, typeof(ProblemDetails), [ProblemContentType]),
            new ErrorCodesMetadata(status, codes));
    }

    /// <summary>What any /api endpoint may answer: refused at capacity, a dependency down, a deadline passed, a bug.</summary>
    public static TBuilder ProducesServerErrors<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder
            .ProducesErrors(StatusCodes.Status500InternalServerError, ErrorCodes.InternalError)
            .ProducesErrors(StatusCodes.Status503ServiceUnavailable, ErrorCodes.Overloaded, ErrorCodes.ServiceUnavailable)
            .ProducesErrors(StatusCodes.Status504GatewayTimeout, ErrorCodes.DeadlineExceeded);

    /// <summary>A write that goes through the command bus may also find its queue full.</summary>
    public static TBuilder ProducesCommandErrors<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.ProducesErrors(StatusCodes.Status503ServiceUnavailable, ErrorCodes.QueueFull);

    /// <summary>An endpoint that needs a session answers 401 without a valid one.</summary>
    public static TBuilder ProducesSessionErrors<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.ProducesErrors(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthenticated);

    /// <summary>A JSON body (<see cref="JsonBody"/>) of type <typeparamref name="TRequest"/>, and what reading one can answer.</summary>
    public static RouteHandlerBuilder AcceptsJson<TRequest>(this RouteHandlerBuilder builder)
        where TRequest : notnull
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder
            .Accepts<TRequest>("application/json")
            .ProducesErrors(StatusCodes.Status400BadRequest, ErrorCodes.MalformedJson, ErrorCodes.InvalidRequest)
            .ProducesErrors(StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge)
            .ProducesErrors(StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType);
    }
}
