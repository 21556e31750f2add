using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Tally.Testing;

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

/// <summary>A registered user with a live session.</summary>
public sealed record PgUser(long Id, string Phone, string Username, string Password, string AccountNumber, string Session);

public static class PgTestKit
{
    private static int s_phone = Random.Shared.Next(1_000_000);

    public static string NewPhone() => "6" + Interlocked.Increment(ref s_phone).ToString("D10", System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<PgUser> RegisterAndLoginAsync(this WebApplicationFactory<Program> factory, string? username = null)
    {
        using var client = factory.CreateClient();
        var phone = NewPhone();
        var name = username ?? "user" + phone[^4..];
        const string password = "correct horse battery";
        var registered = await (await client.PostAsJsonAsync("/api/auth/register", new { phone, username = name, password })).AssertJsonAsync();
        var login = await (await client.PostAsJsonAsync("/api/auth/login", new { phone, password })).AssertJsonAsync();
        return new PgUser(registered.GetProperty("id").GetInt64(), phone, name, password, registered.GetProperty("account_number").GetString()!, login.GetProperty("session").GetString()!);
    }

    public static HttpClient CreateClient(this WebApplicationFactory<Program> factory, PgUser user)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", user.Session);
        return client;
    }

    public static HttpClient CreateAdminClient(this WebApplicationFactory<Program> factory)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Secret", PgTallyFactory.AdminSecret);
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
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(errorCode, problem.GetProperty("error_code").GetString());
        return problem;
    }

    public static async Task<(long Balance, long Available)> GetBalanceAsync(this WebApplicationFactory<Program> factory, PgUser user)
    {
        using var client = factory.CreateClient(user);
        var body = await (await client.GetAsync("/api/account/balance")).AssertJsonAsync();
        return (body.GetProperty("balance").GetInt64(), body.GetProperty("available").GetInt64());
    }

    public static async Task<JsonElement> AssertAuditOkAsync(this WebApplicationFactory<Program> factory)
    {
        using var admin = factory.CreateAdminClient();
        var audit = await (await admin.GetAsync("/api/account/admin/audit")).AssertJsonAsync();
        Assert.True(audit.GetProperty("ok").GetBoolean(), audit.ToString());
        Assert.Equal(0, audit.GetProperty("ledger_sum").GetInt64());
        Assert.Equal(0, audit.GetProperty("negative_balances").GetInt64());
        Assert.Equal(0, audit.GetProperty("mismatched_accounts").GetInt64());
        return audit;
    }
}
