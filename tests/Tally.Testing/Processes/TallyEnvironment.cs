using System.Security.Cryptography;

namespace Tally.Testing;

/// <summary>The settings of every Tally the tests run, and the environment of a Tally.Server process (Section__Key).</summary>
public static class TallyEnvironment
{
    /// <summary>
    /// What every Tally of the tests gets, in configuration form (Section:Key): its data folder, cheap password
    /// hashing, login and registration limits out of the way, an admin secret, quiet logs.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> ForTests(string dataDirectory, string adminSecret) =>
    [
        new("Storage:DataDirectory", dataDirectory),
        new("Auth:PasswordIterations", "1000"),
        new("Auth:LoginPermitsPerIpPerMinute", "100000"),
        new("Auth:LoginPermitsPerPhonePerMinute", "100000"),
        new("Auth:RegistrationsPerIpPerMinute", "100000"),
        new("Admin:Secret", adminSecret),
        new("Logging:LogLevel:Default", "Warning"),
    ];

    /// <summary>
    /// Tally on PostgreSQL and RabbitMQ with the settings of the tests (<see cref="ForTests"/>) and a signing key
    /// of its own, as a process's environment. The caller adds its role and what its test needs.
    /// </summary>
    public static Dictionary<string, string> OnPostgresAndRabbitMq(string postgres, string rabbitMq, string dataDirectory, string adminSecret)
    {
        var environment = ForTests(dataDirectory, adminSecret).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
        environment["Bus__Transport"] = "RabbitMq";
        environment["ConnectionStrings__RabbitMq"] = rabbitMq;
        environment["Storage__Provider"] = "Postgres";
        environment["ConnectionStrings__Postgres"] = postgres;
        environment["Auth__SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        return environment;
    }
}
