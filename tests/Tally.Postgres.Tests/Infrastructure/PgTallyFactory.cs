using System.Security.Cryptography;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Tally.Postgres.Tests.Infrastructure;

/// <summary>
/// Tally with Storage:Provider=Postgres on its own database of the private server. As the mode of the shared suites,
/// each host is on a new database of <see cref="PostgresServer.ForSuites"/>.
/// </summary>
public sealed class PgTallyFactory(string connectionString, IDictionary<string, string?>? overrides = null) : TallyTestHost(
    "tally-pg-tests",
    AdminSecret,
    new Dictionary<string, string?>
    {
        ["Storage:Provider"] = "Postgres",
        ["ConnectionStrings:Postgres"] = connectionString,
        ["Auth:SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
    },
    overrides), ITallyMode
{
    public const string AdminSecret = "pg-admin-secret";

    public string ConnectionString { get; } = connectionString;

    public static TallyTestHost WithSettings(params (string Key, string? Value)[] settings) =>
        new PgTallyFactory(PostgresServer.ForSuites.CreateDatabaseAsync("suite").GetAwaiter().GetResult(), settings.ToDictionary(s => s.Key, s => s.Value));

    // The in-memory cache, as embedded: nothing to reach, so no readiness check of its own.
    static IReadOnlyList<string> ITallyMode.ReadyDependencies => ["database", "bus"];

    /// <summary>A client of the process that runs the command handlers: this one, with the in-process bus.</summary>
    public HttpClient CreateWorkerClient() => CreateClient();
}
