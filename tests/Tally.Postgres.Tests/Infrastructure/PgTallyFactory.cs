using System.Security.Cryptography;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Tally.Postgres.Tests.Infrastructure;

/// <summary>Tally with Storage:Provider=Postgres on its own database of the private server.</summary>
public sealed class PgTallyFactory(string connectionString, IDictionary<string, string?>? overrides = null) : TallyTestHost(
    "tally-pg-tests",
    AdminSecret,
    new Dictionary<string, string?>
    {
        ["Storage:Provider"] = "Postgres",
        ["ConnectionStrings:Postgres"] = connectionString,
        ["Auth:SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
    },
    overrides)
{
    public const string AdminSecret = "pg-admin-secret";

    public string ConnectionString { get; } = connectionString;
}
