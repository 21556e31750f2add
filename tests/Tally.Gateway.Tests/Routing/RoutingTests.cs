using System.Net.WebSockets;

namespace Tally.Gateway.Tests.Routing;

public sealed class RoutingTests : IAsyncLifetime
{
    private readonly List<StubBackend> _stubs = [];
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            _stubs.Add(await StubBackend.StartAsync($"stub-{i}"));
        }
        _gateway = GatewayHost.Start(_stubs.Select(s => s.Url));
        await _gateway.WaitUntilReadyAsync();
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        foreach (var stub in _stubs)
        {
            await stub.DisposeAsync();
        }
    }

    [Fact]
    public async Task ApiRequests_AreSpreadAcrossEveryInstance()
    {
        using var client = _gateway.Client();
        var served = new Dictionary<string, int>();
        for (var i = 0; i < 90; i++)
        {
            using var response = await client.GetAsync(new Uri($"/api/account/balance?i={i}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var instance = response.Headers.GetValues("X-Instance").Single();
            served[instance] = served.GetValueOrDefault(instance) + 1;
        }
        Assert.Equal(3, served.Count);
        Assert.All(served.Values, count => Assert.True(count >= 5, $"one instance served only {count} of 90"));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/index.html")]
    [InlineData("/docs")]
    [InlineData("/openapi/v1.json")]
    public async Task EverythingElse_GoesToThePoolToo(string path)
    {
        using var client = _gateway.Client();
        var seen = await client.GetFromJsonAsync<Dictionary<string, string>>(new Uri(path, UriKind.Relative));
        Assert.NotNull(seen);
        Assert.StartsWith("stub-", seen["instance"], StringComparison.Ordinal);
        Assert.Equal(path, seen["path"]);
    }

    [Fact]
    public async Task OwnEndpoints_AreAnsweredByTheGateway_NotForwarded()
    {
        using var client = _gateway.Client();
        var before = _stubs.Sum(s => s.Requests.Count(r => r["path"] is "/health" or "/metrics"));
        using var health = await client.GetAsync(new Uri("/health", UriKind.Relative));
        using var metrics = await client.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.False(health.Headers.Contains("X-Instance"));
        Assert.Equal(before, _stubs.Sum(s => s.Requests.Count(r => r["path"] is "/health" or "/metrics")));
    }

    [Fact]
    public async Task PostBodies_AreForwardedWhole()
    {
        using var client = _gateway.Client();
        using var response = await client.PostAsync(new Uri("/api/transfer/transfer", UriKind.Relative),
            new StringContent(new string('x', 5000), Encoding.UTF8, "application/json"));
        var seen = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
        Assert.Equal("5000", seen!["body_length"]);
        Assert.Equal("POST", seen["method"]);
    }

    [Fact]
    public async Task RequestId_FromTheClient_ReachesTheInstanceAndComesBack()
    {
        using var client = _gateway.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/account/me");
        request.Headers.Add("X-Request-Id", "client-abc-123");
        using var response = await client.SendAsync(request);
        var seen = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
        Assert.Equal("client-abc-123", seen!["h:x-request-id"]);
        Assert.Equal("client-abc-123", Assert.Single(response.Headers.GetValues("X-Request-Id")));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("has spaces and <script>")]
    public async Task RequestId_MissingOrUnsafe_IsGenerated_AndTheSameGoesUpstreamAndBack(string? given)
    {
        using var client = _gateway.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/account/me");
        if (given is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Request-Id", given);
        }
        using var response = await client.SendAsync(request);
        var seen = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
        var id = Assert.Single(response.Headers.GetValues("X-Request-Id"));
        Assert.Matches("^[0-9a-f]{32}$", id);
        Assert.Equal(id, seen!["h:x-request-id"]);
    }

    [Fact]
    public async Task ForwardedHeaders_AreSetOverTheClientsOwn_AndHopByHopHeadersAreStripped()
    {
        using var client = _gateway.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/account/me");
        // A client that is not a trusted proxy can't choose the address its limits count.
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
        request.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
        request.Headers.TryAddWithoutValidation("X-Kept", "yes");
        using var response = await client.SendAsync(request);
        var seen = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
        Assert.Equal("127.0.0.1", seen!["h:x-forwarded-for"]);
        Assert.Equal("http", seen["h:x-forwarded-proto"]);
        Assert.Equal(_gateway.BaseUrl.Authority, seen["h:x-forwarded-host"]);
        Assert.False(seen.ContainsKey("h:keep-alive"));
        Assert.Equal("yes", seen["h:x-kept"]);
    }

    [Fact]
    public async Task BehindATrustedProxy_TheClientItNames_IsForwardedAndRateLimited()
    {
        await using var behindIngress = GatewayHost.Start(_stubs.Select(s => s.Url), new Dictionary<string, string>
        {
            ["ForwardedHeaders:KnownProxies"] = "127.0.0.1",
            ["Gateway:RateLimits:LoginPerIpPerMinute"] = "2",
        });
        await behindIngress.WaitUntilReadyAsync();
        using var client = behindIngress.Client();

        async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string clientAddress)
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", clientAddress);
            request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
            return await client.SendAsync(request);
        }

        using (var response = await SendAsync(HttpMethod.Get, "/api/account/me", "203.0.113.9"))
        {
            var seen = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
            Assert.Equal("203.0.113.9", seen!["h:x-forwarded-for"]);
            Assert.Equal("https", seen["h:x-forwarded-proto"]);
        }

        var first = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await SendAsync(HttpMethod.Post, "/api/auth/login", "203.0.113.10");
            first.Add(response.StatusCode);
        }
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], first);
        using var other = await SendAsync(HttpMethod.Post, "/api/auth/login", "203.0.113.11");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);

        // IPv6 clients are counted by their /64: three addresses of one network share its two logins.
        var network = new List<HttpStatusCode>();
        foreach (var address in new[] { "2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3" })
        {
            using var response = await SendAsync(HttpMethod.Post, "/api/auth/login", address);
            network.Add(response.StatusCode);
        }
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], network);
        using var otherNetwork = await SendAsync(HttpMethod.Post, "/api/auth/login", "2001:db8:1:3::1");
        Assert.Equal(HttpStatusCode.OK, otherNetwork.StatusCode);
    }

    [Fact]
    public async Task Trace_IsJoined_TheInstanceSeesTheClientsTraceIdWithTheGatewaysSpan()
    {
        using var client = _gateway.Client();
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        const string clientSpan = "00f067aa0ba902b7";
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/account/me");
        request.Headers.TryAddWithoutValidation("traceparent", $"00-{traceId}-{clientSpan}-01");
        using var response = await client.SendAsync(request);
        var seen = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
        var parts = seen!["h:traceparent"].Split('-');
        Assert.Equal(traceId, parts[1]);
        Assert.NotEqual(clientSpan, parts[2]);
    }

    [Fact]
    public async Task WebSocket_IsProxiedBothWays()
    {
        using var socket = new ClientWebSocket();
        var url = new UriBuilder(_gateway.BaseUrl) { Scheme = "ws", Path = "/ws" }.Uri;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(url, timeout.Token);
        var buffer = new byte[4096];
        string? instance = null;
        for (var i = 0; i < 3; i++)
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes($"ping-{i}"), WebSocketMessageType.Text, true, timeout.Token);
            var received = await socket.ReceiveAsync(buffer, timeout.Token);
            var text = Encoding.UTF8.GetString(buffer, 0, received.Count);
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            Assert.Equal($"ping-{i}", text[(colon + 1)..]);
            // One socket, one instance: every frame is answered by the same one.
            instance ??= text[..colon];
            Assert.Equal(instance, text[..colon]);
        }
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        Assert.Equal(WebSocketState.Closed, socket.State);
    }
}
