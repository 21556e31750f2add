namespace Tally.Server.Cache;

/// <summary>At most <paramref name="PermitsPerMinute"/> attempts per fixed one-minute window on <paramref name="Key"/>, e.g. <c>register:ip:203.0.113.7</c>.</summary>
public readonly record struct AttemptLimit(string Key, int PermitsPerMinute);

/// <summary>
/// Attempt counts shared by every instance (Redis), for the login and registration limits. When it isn't active, or
/// can't count, each instance's ASP.NET Core rate limiters count in memory instead.
/// </summary>
public interface ISharedAttemptCounter
{
    bool IsActive { get; }

    /// <summary>
    /// Counts one attempt against every limit in the current window. Handled is false when the shared store could not
    /// count it; RetryAfter is the seconds to the next window when any limit is exceeded, else null.
    /// </summary>
    ValueTask<(bool Handled, int? RetryAfter)> TryAttemptAsync(IReadOnlyList<AttemptLimit> limits);
}

public static class SharedAttempts
{
    /// <summary>
    /// Counts one attempt in the shared store when there is one and it is active. Handled is false when it did not
    /// count (none configured, Redis unreachable): the caller then counts in memory alone.
    /// </summary>
    public static async ValueTask<(bool Handled, int? RetryAfter)> TryCountAsync(this ISharedAttemptCounter? shared, IReadOnlyList<AttemptLimit> limits) =>
        shared is { IsActive: true } ? await shared.TryAttemptAsync(limits).ConfigureAwait(false) : (false, null);
}
