using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Tally.Testing;

namespace Tally.RabbitMq.Tests.Infrastructure;

/// <summary>Tally with Bus:Transport=RabbitMq on the private broker, its queues under a prefix of its own.</summary>
/// <param name="provider">Sqlite (a temp folder of its own) or Postgres (the private server's database).</param>
public sealed class RabbitTallyFactory(PrivateServices services, string role = "all", string provider = "Sqlite", string? queuePrefix = null, string? signingKey = null, IDictionary<string, string?>? overrides = null)
    : TallyTestHost("tally-rmq-tests", AdminSecret, Mode(services, role, provider, queuePrefix, signingKey), overrides)
{
    public const string AdminSecret = "rmq-admin-secret";

    public string QueuePrefix => Settings["Bus:RabbitMq:QueuePrefix"]!;

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

public sealed record TestUser(long Id, string Phone, string Username, string AccountNumber, string Session);

public static class Kit
{
    private static int s_phone = Random.Shared.Next(1_000_000);

    public static string NewPhone() => "7" + Interlocked.Increment(ref s_phone).ToString("D10", System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<TestUser> RegisterAndLoginAsync(this WebApplicationFactory<Program> factory)
    {
        using var client = factory.CreateClient();
        var phone = NewPhone();
        var name = "user" + phone[^5..];
        const string password = "correct horse battery";
        var registered = await (await client.PostAsJsonAsync("/api/auth/register", new { phone, username = name, password })).AssertJsonAsync();
        var login = await (await client.PostAsJsonAsync("/api/auth/login", new { phone, password })).AssertJsonAsync();
        return new TestUser(registered.GetProperty("id").GetInt64(), phone, name, registered.GetProperty("account_number").GetString()!, login.GetProperty("session").GetString()!);
    }

    public static HttpClient CreateClient(this WebApplicationFactory<Program> factory, TestUser user)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", user.Session);
        return client;
    }

    public static HttpClient CreateAdminClient(this WebApplicationFactory<Program> factory)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Secret", RabbitTallyFactory.AdminSecret);
        return client;
    }

    public static async Task<JsonElement> AssertJsonAsync(this HttpResponseMessage response, System.Net.HttpStatusCode expected = System.Net.HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, System.Net.HttpStatusCode status, string errorCode)
    {
        var problem = await response.AssertJsonAsync(status);
        Assert.Equal(errorCode, problem.GetProperty("error_code").GetString());
        return problem;
    }

    public static async Task<long> BalanceAsync(this WebApplicationFactory<Program> factory, TestUser user)
    {
        using var client = factory.CreateClient(user);
        var body = await (await client.GetAsync("/api/account/balance")).AssertJsonAsync();
        return body.GetProperty("balance").GetInt64();
    }

    public static async Task<JsonElement> AssertAuditOkAsync(this WebApplicationFactory<Program> factory)
    {
        using var admin = factory.CreateAdminClient();
        var audit = await (await admin.GetAsync("/api/account/admin/audit")).AssertJsonAsync();
        Assert.True(audit.GetProperty("ok").GetBoolean(), audit.ToString());
        return audit;
    }

    /// <summary>Waits until /ready is 200 (the broker connection and publisher are up).</summary>
    public static async Task WaitReadyAsync(this WebApplicationFactory<Program> factory)
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
