namespace Tally.Server.Tests.Features;

/// <summary>
/// Each registration mints an opening balance, so registrations are limited per client IP
/// (Auth:RegistrationsPerIpPerMinute): past the limit, 429 TOO_MANY_ATTEMPTS with Retry-After, and nothing is written.
/// Behind the gateway the client is the one the trusted proxy names in X-Forwarded-For.
/// </summary>
public sealed class RegistrationLimitTests
{
    private const string Password = "correct horse battery";
    private const string Proxy = "127.0.0.1";

    [Fact]
    public async Task Register_BeyondThePerIpLimit_IsTooManyAttempts_WithRetryAfter_AndCreatesNoUser()
    {
        using var app = new PeerTallyApp(("Auth:RegistrationsPerIpPerMinute", "3"));
        using var client = app.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            using var accepted = await RegisterAsync(client, TallyTestKit.NewPhone(), forwardedFor: "203.0.113.50");
            await accepted.AssertJsonAsync();
        }
        var statsBefore = await StatsAsync(app);
        var auditBefore = await app.AssertAuditOkAsync();

        var phone = TallyTestKit.NewPhone();
        using var refused = await RegisterAsync(client, phone, forwardedFor: "203.0.113.50");

        var problem = await refused.AssertProblemAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_ATTEMPTS");
        Assert.Contains("registrations", problem.Str("detail"), StringComparison.Ordinal);
        var retryAfter = refused.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value.TotalSeconds, 1, 60);
        var statsAfter = await StatsAsync(app);
        Assert.Equal(3, statsAfter.Long("total_users"));
        Assert.Equal(statsBefore.Long("total_users"), statsAfter.Long("total_users"));
        Assert.Equal(statsBefore.Long("total_balance"), statsAfter.Long("total_balance"));
        Assert.Equal(statsBefore.Long("total_transfers"), statsAfter.Long("total_transfers"));
        var auditAfter = await app.AssertAuditOkAsync();
        Assert.Equal(auditBefore.Long("accounts"), auditAfter.Long("accounts"));
        Assert.Equal(auditBefore.Long("total_user_balance"), auditAfter.Long("total_user_balance"));
        // The refused phone has no user: its login is an ordinary wrong-credentials answer.
        using var login = await client.PostAsJsonAsync("/api/auth/login", new { phone, password = Password });
        await login.AssertProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
    }

    [Fact]
    public async Task Register_FromAnotherClientBehindTheTrustedProxy_IsNotAffected_NorAreLoginsFromTheLimitedOne()
    {
        using var app = new PeerTallyApp(("Auth:RegistrationsPerIpPerMinute", "2"));
        using var client = app.CreateClient();
        var first = TallyTestKit.NewPhone();
        var statuses = new List<HttpStatusCode>();
        foreach (var phone in new[] { first, TallyTestKit.NewPhone(), TallyTestKit.NewPhone() })
        {
            using var response = await RegisterAsync(client, phone, forwardedFor: "203.0.113.60");
            statuses.Add(response.StatusCode);
        }
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);

        using var other = await RegisterAsync(client, TallyTestKit.NewPhone(), forwardedFor: "203.0.113.61");
        await other.AssertJsonAsync();

        // The registration limit is its own count: the limited client still logs in.
        using var login = new HttpRequestMessage(HttpMethod.Post, "/api/auth/login") { Content = JsonContent.Create(new { phone = first, password = Password }) };
        login.Headers.Add(PeerTallyApp.PeerHeader, Proxy);
        login.Headers.Add("X-Forwarded-For", "203.0.113.60");
        using var session = await client.SendAsync(login);
        Assert.False(string.IsNullOrEmpty((await session.AssertJsonAsync()).Str("session")));
    }

    [Fact]
    public async Task FromAnUntrustedPeer_AForgedForwardedFor_DoesNotEscapeTheRegistrationLimit()
    {
        using var app = new PeerTallyApp(("Auth:RegistrationsPerIpPerMinute", "2"));
        using var client = app.CreateClient();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await RegisterAsync(client, TallyTestKit.NewPhone(), forwardedFor: $"203.0.113.{70 + i}", peer: "198.51.100.9");
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public void ARegistrationLimitBelowOne_StopsStartUp()
    {
        using var app = new PeerTallyApp(("Auth:RegistrationsPerIpPerMinute", "0"));

        var error = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        Assert.Contains("RegistrationsPerIpPerMinute", error.ToString(), StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> RegisterAsync(HttpClient client, string phone, string forwardedFor, string peer = Proxy)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/register")
        {
            Content = JsonContent.Create(new { phone, username = "Reg", password = Password }),
        };
        request.Headers.Add(PeerTallyApp.PeerHeader, peer);
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        return await client.SendAsync(request);
    }

    private static async Task<JsonElement> StatsAsync(EmbeddedTallyApp app)
    {
        using var admin = app.CreateAdminClient();
        using var response = await admin.GetAsync("/api/account/admin/stats");
        return await response.AssertJsonAsync();
    }
}
