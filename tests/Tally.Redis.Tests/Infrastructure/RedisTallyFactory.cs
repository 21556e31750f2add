using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Tally.Testing;

namespace Tally.Redis.Tests.Infrastructure;

/// <summary>Tally in distributed storage mode (PostgreSQL) with Cache:Redis pointing at the sentinels.</summary>
public sealed class RedisTallyFactory(string postgres, string redis, IDictionary<string, string?> overrides) : TallyTestHost(
    "tally-redis-tests",
    AdminSecret,
    new Dictionary<string, string?>
    {
        ["Storage:Provider"] = "Postgres",
        ["ConnectionStrings:Postgres"] = postgres,
        ["Cache:Redis"] = redis,
    },
    overrides)
{
    public const string AdminSecret = "redis-admin-secret";
}

public sealed record TestUser(long Id, string Phone, string Password, string AccountNumber, string Session);

public static class Kit
{
    private static int s_phone = Random.Shared.Next(1_000_000);

    public static string NewPhone() => "7" + Interlocked.Increment(ref s_phone).ToString("D10", System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<TestUser> RegisterAndLoginAsync(this WebApplicationFactory<Program> factory)
    {
        using var client = factory.CreateClient();
        var phone = NewPhone();
        const string password = "correct horse battery";
        var registered = await (await client.PostAsJsonAsync("/api/auth/register", new { phone, username = "u" + phone[^6..], password })).AssertJsonAsync();
        var session = await factory.LoginAsync(phone, password);
        return new TestUser(registered.GetProperty("id").GetInt64(), phone, password, registered.GetProperty("account_number").GetString()!, session);
    }

    public static async Task<string> LoginAsync(this WebApplicationFactory<Program> factory, string phone, string password)
    {
        using var client = factory.CreateClient();
        var login = await (await client.PostAsJsonAsync("/api/auth/login", new { phone, password })).AssertJsonAsync();
        return login.GetProperty("session").GetString()!;
    }

    public static HttpClient CreateClient(this WebApplicationFactory<Program> factory, string session)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", session);
        return client;
    }

    public static async Task<long> BalanceAsync(this WebApplicationFactory<Program> factory, TestUser user)
    {
        using var client = factory.CreateClient(user.Session);
        return (await (await client.GetAsync("/api/account/balance")).AssertJsonAsync()).GetProperty("balance").GetInt64();
    }

    public static async Task<long> MeBalanceAsync(this WebApplicationFactory<Program> factory, TestUser user)
    {
        using var client = factory.CreateClient(user.Session);
        return (await (await client.GetAsync("/api/account/me")).AssertJsonAsync()).GetProperty("balance").GetInt64();
    }

    public static async Task<JsonElement> TransferAsync(this WebApplicationFactory<Program> factory, TestUser from, TestUser to, long amount)
    {
        using var client = factory.CreateClient(from.Session);
        return await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = to.AccountNumber, amount })).AssertJsonAsync();
    }

    public static async Task<JsonElement> ReadyAsync(this WebApplicationFactory<Program> factory)
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/ready");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    public static async Task<JsonElement> AssertJsonAsync(this HttpResponseMessage response, System.Net.HttpStatusCode expected = System.Net.HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static async Task AssertAuditOkAsync(this WebApplicationFactory<Program> factory)
    {
        using var admin = factory.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Admin-Secret", RedisTallyFactory.AdminSecret);
        var audit = await (await admin.GetAsync("/api/account/admin/audit")).AssertJsonAsync();
        Assert.True(audit.GetProperty("ok").GetBoolean(), audit.ToString());
    }

    /// <summary>Polls until the check returns true or the time is up; returns how long it took, or null.</summary>
    public static async Task<TimeSpan?> WithinAsync(TimeSpan limit, Func<Task<bool>> check, int intervalMs = 50)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            try
            {
                if (await check())
                {
                    return watch.Elapsed;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or Xunit.Sdk.XunitException or JsonException or TaskCanceledException)
            {
                // Not yet.
            }
            await Task.Delay(intervalMs);
        }
        return null;
    }
}
