using System.Security.Cryptography;

namespace Tally.Testing;

/// <summary>The environment of a Tally.Server process of the tests, in the form the process reads (Section__Key).</summary>
public static class TallyEnvironment
{
    /// <summary>
    /// Tally on PostgreSQL and RabbitMQ with the settings of the tests: a signing key of its own, cheap password
    /// hashing, login and registration limits out of the way, quiet logs. The caller adds its role and what its
    /// test needs.
    /// </summary>
    public static Dictionary<string, string> OnPostgresAndRabbitMq(string postgres, string rabbitMq, string dataDirectory, string adminSecret) => new()
    {
        ["Bus__Transport"] = "RabbitMq",
        ["ConnectionStrings__RabbitMq"] = rabbitMq,
        ["Storage__Provider"] = "Postgres",
        ["ConnectionStrings__Postgres"] = postgres,
        ["Storage__DataDirectory"] = dataDirectory,
        ["Auth__SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        ["Auth__PasswordIterations"] = "1000",
        ["Auth__LoginPermitsPerIpPerMinute"] = "100000",
        ["Auth__LoginPermitsPerPhonePerMinute"] = "100000",
        ["Auth__RegistrationsPerIpPerMinute"] = "100000",
        ["Admin__Secret"] = adminSecret,
        ["Logging__LogLevel__Default"] = "Warning",
    };
}
