namespace Tally.Server.Cache;

/// <summary>
/// <c>Cache:Redis</c>: a StackExchange.Redis configuration string. Unset (the default), Tally caches in memory.
/// With <c>serviceName=...</c> the endpoints are Redis Sentinels and the client follows the master they name.
/// </summary>
public sealed class CacheOptions
{
    public const string Section = "Cache";

    public string? Redis { get; set; }

    /// <summary>The prefix of every Redis key and channel, so that several deployments can share one Redis.</summary>
    public string KeyPrefix { get; set; } = "tally:";

    public bool UsesRedis => !string.IsNullOrWhiteSpace(Redis);
}
