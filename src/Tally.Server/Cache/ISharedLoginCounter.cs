namespace Tally.Server.Cache;

/// <summary>Login attempt counts shared by every instance (Redis); <see cref="Features.Auth.LoginThrottle"/> counts in memory when it isn't active.</summary>
public interface ISharedLoginCounter
{
    bool IsActive { get; }

    /// <summary>Counts one attempt for the key and the client IP. Handled is false when the shared store could not count it.</summary>
    ValueTask<(bool Handled, int? RetryAfter)> TryAttemptAsync(string key, string? clientIp);
}
