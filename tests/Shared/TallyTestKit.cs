using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tally.Testing;

/// <summary>A registered user with a live session.</summary>
public sealed record TallyUser(long Id, string Phone, string Username, string Password, string AccountNumber, string Session);

/// <summary>
/// The calls that tests of a <see cref="TallyTestHost"/> make over and over: register and log in, clients with a
/// session or the admin secret, JSON and problem assertions, balances and the audit. Linked into the projects that
/// test Tally on real servers (PostgreSQL, RabbitMQ, Redis).
/// </summary>
public static class TallyTestKit
{
    public const string Password = "correct horse battery";

    private static int s_phone = Random.Shared.Next(1_000_000);

    public static string NewPhone() => "6" + Interlocked.Increment(ref s_phone).ToString("D10", System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<TallyUser> RegisterAndLoginAsync(this TallyTestHost host, string? username = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        using var client = host.CreateClient();
        var phone = NewPhone();
        var name = username ?? "user" + phone[^6..];
        var registered = await (await client.PostAsJsonAsync("/api/auth/register", new { phone, username = name, password = Password })).AssertJsonAsync();
        var session = await host.LoginAsync(phone, Password);
        return new TallyUser(registered.GetProperty("id").GetInt64(), phone, name, Password, registered.GetProperty("account_number").GetString()!, session);
    }

    public static async Task<string> LoginAsync(this TallyTestHost host, string phone, string password)
    {
        ArgumentNullException.ThrowIfNull(host);
        using var client = host.CreateClient();
        var login = await (await client.PostAsJsonAsync("/api/auth/login", new { phone, password })).AssertJsonAsync();
        return login.GetProperty("session").GetString()!;
    }

    public static HttpClient CreateClient(this TallyTestHost host, TallyUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return host.CreateClient(user.Session);
    }

    public static HttpClient CreateClient(this TallyTestHost host, string session)
    {
        ArgumentNullException.ThrowIfNull(host);
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", session);
        return client;
    }

    public static HttpClient CreateAdminClient(this TallyTestHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Secret", host.AdminHeaderValue);
        return client;
    }

    public static async Task<JsonElement> AssertJsonAsync(this HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string errorCode)
    {
        ArgumentNullException.ThrowIfNull(response);
        var problem = await response.AssertJsonAsync(status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(errorCode, problem.GetProperty("error_code").GetString());
        return problem;
    }

    public static async Task<(long Balance, long Available)> GetBalanceAsync(this TallyTestHost host, TallyUser user)
    {
        using var client = host.CreateClient(user);
        var body = await (await client.GetAsync("/api/account/balance")).AssertJsonAsync();
        return (body.GetProperty("balance").GetInt64(), body.GetProperty("available").GetInt64());
    }

    public static async Task<long> BalanceAsync(this TallyTestHost host, TallyUser user) => (await host.GetBalanceAsync(user)).Balance;

    /// <summary>The money audit is ok: the ledger sums to 0, no balance is negative, every balance replays from its transfers.</summary>
    public static async Task<JsonElement> AssertAuditOkAsync(this TallyTestHost host)
    {
        using var admin = host.CreateAdminClient();
        var audit = await (await admin.GetAsync("/api/account/admin/audit")).AssertJsonAsync();
        Assert.True(audit.GetProperty("ok").GetBoolean(), audit.ToString());
        Assert.Equal(0, audit.GetProperty("ledger_sum").GetInt64());
        Assert.Equal(0, audit.GetProperty("negative_balances").GetInt64());
        Assert.Equal(0, audit.GetProperty("mismatched_accounts").GetInt64());
        return audit;
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
