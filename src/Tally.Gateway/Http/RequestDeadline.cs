using System.Globalization;

namespace Tally.Gateway.Http;

/// <summary>
/// A request's deadline, set as it arrives at the gateway: its budget is the client's <c>Request-Timeout</c> when given
/// and shorter, otherwise the gateway's own (<see cref="LimitsOptions.RequestTimeout"/>, capped by
/// <see cref="LimitsOptions.UpstreamTimeout"/>). The queue waits at most until it, and the instance is told what is left of it.
/// </summary>
public sealed class RequestDeadline(long startedAt, TimeSpan budget, TimeProvider time)
{
    public const string Header = "Request-Timeout";

    public TimeSpan Budget { get; } = budget;

    public TimeSpan Remaining => Budget - time.GetElapsedTime(startedAt);

    /// <summary>
    /// Tally's format: <c>250ms</c>, <c>2s</c>, or a bare integer meaning milliseconds. Anything else, zero or negative
    /// is no value at all: the gateway's budget applies.
    /// </summary>
    public static bool TryParse(string? value, out TimeSpan timeout)
    {
        timeout = default;
        var text = value.AsSpan().Trim();
        var scale = 1L;
        if (text.EndsWith("ms", StringComparison.OrdinalIgnoreCase))
        {
            text = text[..^2];
        }
        else if (text.EndsWith("s", StringComparison.OrdinalIgnoreCase))
        {
            text = text[..^1];
            scale = 1000;
        }
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || amount <= 0 || amount > int.MaxValue)
        {
            return false;
        }
        timeout = TimeSpan.FromMilliseconds(amount * scale);
        return true;
    }

    /// <summary>The value to send upstream: whole milliseconds left, rounded down so it never exceeds the client's.</summary>
    public static string Format(TimeSpan remaining) =>
        string.Create(CultureInfo.InvariantCulture, $"{(long)Math.Floor(remaining.TotalMilliseconds)}ms");
}

/// <summary>Starts every request's clock and sets its <see cref="RequestDeadline"/>; first in the pipeline, so queueing counts.</summary>
public sealed class RequestDeadlineMiddleware(RequestDelegate next, IOptions<GatewayOptions> options, TimeProvider time)
{
    private readonly TimeSpan _budget = options.Value.Limits.RequestTimeout < options.Value.Limits.UpstreamTimeout
        ? options.Value.Limits.RequestTimeout
        : options.Value.Limits.UpstreamTimeout;

    public Task InvokeAsync(HttpContext context)
    {
        var startedAt = time.GetTimestamp();
        var budget = RequestDeadline.TryParse(context.Request.Headers[RequestDeadline.Header], out var asked) && asked < _budget ? asked : _budget;
        context.Features.Set(new RequestDeadline(startedAt, budget, time));
        return next(context);
    }
}
