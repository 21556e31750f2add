namespace Tally.Testing;

/// <summary>The areas of the API (shared/API.md), for the tests that visit each of them.</summary>
public static class TallyAreas
{
    /// <summary>Each area's health endpoint and the service name it reports.</summary>
    public static TheoryData<string, string> HealthEndpoints => new()
    {
        { "/api/auth/health", "auth" },
        { "/api/account/health", "account" },
        { "/api/transfer/health", "transfer" },
        { "/api/notifications/health", "notification" },
    };
}
