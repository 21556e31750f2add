namespace Tally.Server.Tests.Features;

/// <summary>
/// Behind the gateway every request comes from the gateway's address. The per-IP login limit must count the
/// client the trusted proxy names in X-Forwarded-For, and ignore that header from anyone else.
/// </summary>
public sealed class ForwardedHeadersTests
{
    private const string Password = "correct horse battery";

    [Fact]
    public async Task BehindALoopbackProxy_ThePerIpLoginLimit_CountsEachForwardedClient()
    {
        using var app = new PeerTallyApp(("Auth:LoginPermitsPerIpPerMinute", "3"));
        using var client = app.CreateClient();

        var first = await FailedLoginsAsync(client, peer: "127.0.0.1", forwardedFor: "203.0.113.10", count: 4);
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], first);

        // Another client behind the same proxy still has its own attempts.
        var second = await FailedLoginsAsync(client, peer: "127.0.0.1", forwardedFor: "203.0.113.11", count: 1);
        Assert.Equal([HttpStatusCode.Unauthorized], second);
    }

    [Fact]
    public async Task FromAnUntrustedPeer_AForgedForwardedFor_DoesNotEscapeThePerIpLimit()
    {
        using var app = new PeerTallyApp(("Auth:LoginPermitsPerIpPerMinute", "3"));
        using var client = app.CreateClient();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.AddRange(await FailedLoginsAsync(client, peer: "198.51.100.7", forwardedFor: $"203.0.113.{20 + i}", count: 1));
        }

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task ConfiguredProxyNetwork_ReplacesTheLoopbackDefault()
    {
        using var app = new PeerTallyApp(("Auth:LoginPermitsPerIpPerMinute", "2"), ("ForwardedHeaders:KnownNetworks", "10.0.0.0/8"));
        using var client = app.CreateClient();

        // A pod-network gateway is trusted: two clients behind it, two attempts each, no refusal.
        var pod = await FailedLoginsAsync(client, peer: "10.1.2.3", forwardedFor: "203.0.113.30", count: 2);
        pod.AddRange(await FailedLoginsAsync(client, peer: "10.1.2.3", forwardedFor: "203.0.113.31", count: 2));
        Assert.All(pod, status => Assert.Equal(HttpStatusCode.Unauthorized, status));

        // Loopback is no longer trusted, so its forwarded clients all count as loopback itself.
        var local = await FailedLoginsAsync(client, peer: "127.0.0.1", forwardedFor: "203.0.113.40", count: 2);
        local.AddRange(await FailedLoginsAsync(client, peer: "127.0.0.1", forwardedFor: "203.0.113.41", count: 1));
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], local);
    }

    [Fact]
    public async Task OneIpv6Network_SharesOneLoginLimit_AndAnotherHasItsOwn()
    {
        using var app = new PeerTallyApp(("Auth:LoginPermitsPerIpPerMinute", "3"));
        using var client = app.CreateClient();

        // Four addresses of one /64: a client that holds the network can't step round the limit.
        var statuses = new List<HttpStatusCode>();
        foreach (var peer in new[] { "2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::abcd:1", "2001:db8:1:2:ffff:ffff:ffff:ffff" })
        {
            statuses.AddRange(await FailedLoginsAsync(client, peer, forwardedFor: "", count: 1));
        }
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], statuses);

        Assert.Equal([HttpStatusCode.Unauthorized], await FailedLoginsAsync(client, peer: "2001:db8:1:3::1", forwardedFor: "", count: 1));
    }

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("203.0.113.1, 203.0.113.2, 203.0.113.3, 203.0.113.4")]
    [InlineData("'; DROP TABLE users; --")]
    [InlineData("２０３.０.１１３.１")]
    [InlineData("[::1]:99999")]
    [InlineData("")]
    public async Task AMalformedForwardedFor_FromTheTrustedProxy_IsAnOrdinaryRequest(string forwardedFor)
    {
        using var app = new PeerTallyApp();
        using var client = app.CreateClient();

        var statuses = await FailedLoginsAsync(client, peer: "127.0.0.1", forwardedFor: forwardedFor, count: 1);

        Assert.Equal([HttpStatusCode.Unauthorized], statuses);
    }

    [Theory]
    [InlineData("ForwardedHeaders:KnownNetworks", "10.0.0.0/33")]
    [InlineData("ForwardedHeaders:KnownNetworks", "not-a-network")]
    [InlineData("ForwardedHeaders:KnownProxies", "10.0.0.300")]
    public void AnInvalidProxySetting_StopsStartUp(string key, string value)
    {
        using var app = new PeerTallyApp((key, value));

        var error = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        Assert.Contains(value, error.ToString(), StringComparison.Ordinal);
    }

    private static async Task<List<HttpStatusCode>> FailedLoginsAsync(HttpClient client, string peer, string forwardedFor, int count)
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/login")
            {
                Content = JsonContent.Create(new { phone = TallyTestKit.NewPhone(), password = Password }),
            };
            request.Headers.Add(PeerTallyApp.PeerHeader, peer);
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
            using var response = await client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }
        return statuses;
    }
}
