using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Tally.Server.Tests.Infrastructure;

/// <summary>A registered user with a live session, and the client that carries it.</summary>
public sealed record TestUser(long Id, string Phone, string Username, string Password, string AccountNumber, string Session)
{
    public HttpClient Authorize(HttpClient client)
    {
        client.DefaultRequestHeaders.Remove("X-Session");
        client.DefaultRequestHeaders.Add("X-Session", Session);
        return client;
    }
}

public static class TallyTestClient
{
    private static int s_phoneCounter = Random.Shared.Next(1_000_000);

    public static string NewPhone() => "7" + Interlocked.Increment(ref s_phoneCounter).ToString("D10", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Registers a new user and logs in; fails the test if either step does not succeed.</summary>
    public static async Task<TestUser> RegisterAndLoginAsync(this WebApplicationFactory<Program> factory, string? username = null)
    {
        using var client = factory.CreateClient();
        var phone = NewPhone();
        var name = username ?? "user" + phone[^4..];
        const string password = "correct horse battery";
        var register = await client.PostAsJsonAsync("/api/auth/register", new { phone, username = name, password });
        Assert.Equal(System.Net.HttpStatusCode.OK, register.StatusCode);
        var registered = await register.Content.ReadFromJsonAsync<JsonElement>();
        var login = await client.PostAsJsonAsync("/api/auth/login", new { phone, password });
        Assert.Equal(System.Net.HttpStatusCode.OK, login.StatusCode);
        var session = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("session").GetString()!;
        return new TestUser(
            registered.GetProperty("id").GetInt64(),
            phone,
            name,
            password,
            registered.GetProperty("account_number").GetString()!,
            session);
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
        client.DefaultRequestHeaders.Add("X-Admin-Secret", TallyAppFactory.AdminSecret);
        return client;
    }

    /// <summary>Reads the admin audit and asserts the ledger invariant: sums to zero, nothing negative.</summary>
    public static async Task<JsonElement> AssertAuditOkAsync(this WebApplicationFactory<Program> factory)
    {
        using var admin = factory.CreateAdminClient();
        var audit = await admin.GetFromJsonAsync<JsonElement>("/api/account/admin/audit");
        Assert.True(audit.GetProperty("ok").GetBoolean(), audit.ToString());
        Assert.Equal(0, audit.GetProperty("ledger_sum").GetInt64());
        Assert.Equal(0, audit.GetProperty("negative_balances").GetInt64());
        return audit;
    }
}
