namespace Tally.Server.Admission;

/// <summary>
/// The deadline of the work in progress, carried like <see cref="System.Diagnostics.Activity.Current"/>: set
/// when a request arrives (its budget) and again when a worker runs a command (the command's deadline), so that
/// every queue on the way (the bus, the worker, the database batch) can drop work that can no longer be useful.
/// </summary>
public static class Deadline
{
    public const string RequestTimeoutHeader = "Request-Timeout";

    private static readonly AsyncLocal<DateTimeOffset?> s_current = new();

    /// <summary>The deadline of the current request or command; null for background work, which has none.</summary>
    public static DateTimeOffset? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    /// <summary>The earlier of the current deadline and <paramref name="now"/> + <paramref name="cap"/>.</summary>
    public static DateTimeOffset Within(DateTimeOffset now, TimeSpan cap)
    {
        var capped = now + cap;
        return Current is { } current && current < capped ? current : capped;
    }

    /// <summary>
    /// Reads a client's <c>Request-Timeout</c>: <c>250ms</c>, <c>2s</c>, <c>1.5s</c>, or a bare number of
    /// milliseconds. Anything else (negative, not a number, absurdly long) is ignored: null.
    /// </summary>
    public static TimeSpan? ParseTimeout(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > 32)
        {
            return null;
        }
        var text = value.Trim();
        var scale = 1.0;
        if (text.EndsWith("ms", StringComparison.OrdinalIgnoreCase))
        {
            text = text[..^2];
        }
        else if (text.EndsWith('s') || text.EndsWith('S'))
        {
            text = text[..^1];
            scale = 1000.0;
        }
        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            return null;
        }
        var milliseconds = amount * scale;
        return milliseconds is >= 0 and <= 86_400_000 ? TimeSpan.FromMilliseconds(milliseconds) : null;
    }
}
