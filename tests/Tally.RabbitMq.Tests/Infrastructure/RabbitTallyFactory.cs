using System.Security.Cryptography;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Tally.RabbitMq.Tests.Infrastructure;

/// <summary>Tally with Bus:Transport=RabbitMq on the private broker, its queues under a prefix of its own.</summary>
/// <param name="provider">Sqlite (a temp folder of its own) or Postgres (the private server's database).</param>
public sealed class RabbitTallyFactory(PrivateServices services, string role = "all", string provider = "Sqlite", string? queuePrefix = null, string? signingKey = null, IDictionary<string, string?>? overrides = null)
    : TallyTestHost("tally-rmq-tests", AdminSecret, Mode(services, role, provider, queuePrefix, signingKey), overrides)
{
    public const string AdminSecret = "rmq-admin-secret";

    public string QueuePrefix => Settings["Bus:RabbitMq:QueuePrefix"]!;

    public string SigningKey => Settings["Auth:SigningKey"]!;

    private static Dictionary<string, string?> Mode(PrivateServices services, string role, string provider, string? queuePrefix, string? signingKey) => new()
    {
        ["Role"] = role,
        ["Bus:Transport"] = "RabbitMq",
        ["ConnectionStrings:RabbitMq"] = services.RabbitMq,
        ["Bus:RabbitMq:QueuePrefix"] = queuePrefix ?? "t" + Guid.NewGuid().ToString("N")[..10],
        ["Storage:Provider"] = provider,
        ["ConnectionStrings:Postgres"] = services.Postgres,
        ["Auth:SigningKey"] = signingKey ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
    };
}

/// <summary>What only the RabbitMQ tests need beyond <see cref="TallyTestKit"/>.</summary>
public static class Kit
{
    /// <summary>Owns <paramref name="app"/> for <paramref name="services"/>, waits until it is ready, and registers alice and bob.</summary>
    public static async Task<(RabbitTallyFactory App, TallyUser Alice, TallyUser Bob)> StartWithTwoUsersAsync(this PrivateServices services, RabbitTallyFactory app)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.Own(app);
        await app.WaitReadyAsync();
        var alice = await app.RegisterAndLoginAsync();
        var bob = await app.RegisterAndLoginAsync();
        return (app, alice, bob);
    }

    /// <summary>Waits until /ready is 200 (the broker connection and publisher are up).</summary>
    public static async Task WaitReadyAsync(this TallyTestHost factory)
    {
        using var client = factory.CreateClient();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string last = "";
        while (DateTime.UtcNow < until)
        {
            var response = await client.GetAsync("/ready");
            if (response.IsSuccessStatusCode)
            {
                return;
            }
            last = await response.Content.ReadAsStringAsync();
            await Task.Delay(100);
        }
        Assert.Fail("Not ready within 30 s: " + last);
    }
}
