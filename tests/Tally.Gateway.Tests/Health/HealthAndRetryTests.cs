namespace Tally.Gateway.Tests.Health;

public sealed class HealthAndRetryTests
{
    private static Uri DeadBackend() => new($"http://127.0.0.1:{TallyProcess.FreePort()}");

    private static async Task<string?> ServedByAsync(HttpClient client, string path = "/api/account/balance")
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("X-Instance").Single();
    }

    [Fact]
    public async Task InstanceFailingItsReadyProbe_LeavesThePool_AndRejoinsWhenItRecovers()
    {
        await using var a = await StubBackend.StartAsync("a");
        await using var b = await StubBackend.StartAsync("b");
        await using var gateway = GatewayHost.Start([a.Url, b.Url]);
        await gateway.WaitUntilReadyAsync();
        using var client = gateway.Client();

        b.Ready = false;
        // Out of the pool by its health, and out of the routing that YARP rebuilds from it just after.
        await Eventually.HoldsAsync(() => !gateway.InPool(b.Url) && !gateway.Routed(b.Url), TimeSpan.FromSeconds(30), "b never left the pool");
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal("a", await ServedByAsync(client));
        }

        b.Ready = true;
        await Eventually.HoldsAsync(async () => await ServedByAsync(client) == "b", TimeSpan.FromSeconds(30), "b never rejoined the pool");
        Assert.True(gateway.InPool(b.Url));
        // The gauge says so too (the scrape is cached for a moment, so poll it).
        await Eventually.HoldsAsync(async () => await gateway.UpstreamHealthyAsync(b.Url) == 1, TimeSpan.FromSeconds(10), "the gauge never showed b back");
    }

    [Fact]
    public async Task NoHealthyInstance_MakesTheGatewayUnready_AndRequestsGet503Problem()
    {
        await using var gateway = GatewayHost.Start([DeadBackend()]);
        using var client = gateway.Client();
        await Eventually.HoldsAsync(async () =>
        {
            using var response = await client.GetAsync(new Uri("/api/account/balance", UriKind.Relative));
            return response.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, TimeSpan.FromSeconds(30), "requests never got 503 with no healthy instance");

        using var proxied = await client.GetAsync(new Uri("/api/account/balance", UriKind.Relative));
        Assert.Equal("application/problem+json", proxied.Content.Headers.ContentType?.MediaType);
        var problem = await proxied.Content.ReadFromJsonAsync<Dictionary<string, object>>();
        Assert.Equal("NO_HEALTHY_UPSTREAM", problem!["error_code"].ToString());
        Assert.True(proxied.Headers.RetryAfter is not null);

        using var ready = await client.GetAsync(new Uri("/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        using var health = await client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    // Health checks off and round robin: every other request goes first to an instance that refuses connections.
    private static readonly Dictionary<string, string> s_noHealthChecks = new()
    {
        ["Gateway:LoadBalancingPolicy"] = "RoundRobin",
        ["Gateway:HealthChecks:ActiveEnabled"] = "false",
        ["Gateway:HealthChecks:PassiveEnabled"] = "false",
    };

    [Fact]
    public async Task Get_ToAnInstanceThatRefusesConnections_IsRetriedOnceOnAnother()
    {
        await using var live = await StubBackend.StartAsync("live");
        await using var gateway = GatewayHost.Start([DeadBackend(), live.Url], s_noHealthChecks);
        using var client = gateway.Client();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("live", await ServedByAsync(client));
        }
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("tally_gateway_retries_total", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TransferWithIdempotencyKey_IsRetriedOnAnother_WhenTheFirstCannotConnect()
    {
        await using var live = await StubBackend.StartAsync("live");
        await using var gateway = GatewayHost.Start([DeadBackend(), live.Url], s_noHealthChecks);
        using var client = gateway.Client();
        for (var i = 0; i < 10; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
            {
                Content = new StringContent("{\"amount\":5,\"to_account_number\":\"000000000001\"}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", $"key-{i}");
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var seen = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
            Assert.Equal("live", seen!["instance"]);
            Assert.Equal("47", seen["body_length"]);
        }
    }

    [Fact]
    public async Task TransferWithoutIdempotencyKey_IsNotRetried_AndGets502Problem()
    {
        await using var live = await StubBackend.StartAsync("live");
        await using var gateway = GatewayHost.Start([DeadBackend(), live.Url], s_noHealthChecks);
        using var client = gateway.Client();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await client.PostAsync(new Uri("/api/transfer/transfer", UriKind.Relative),
                new StringContent("{\"amount\":5}", Encoding.UTF8, "application/json"));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.BadGateway)
            {
                var problem = await response.Content.ReadFromJsonAsync<Dictionary<string, object>>();
                Assert.Equal("UPSTREAM_UNAVAILABLE", problem!["error_code"].ToString());
            }
        }
        // Round robin over [dead, live]: half the unkeyed writes reach the dead one and are not replayed elsewhere.
        Assert.Equal(2, statuses.Count(s => s == HttpStatusCode.BadGateway));
        Assert.Equal(2, statuses.Count(s => s == HttpStatusCode.OK));
    }

    [Fact]
    public async Task InstanceThatDoesNotAnswerInTime_Gets504Problem()
    {
        await using var stub = await StubBackend.StartAsync("slow");
        await using var gateway = GatewayHost.Start([stub.Url], new Dictionary<string, string> { ["Gateway:Limits:UpstreamTimeout"] = "00:00:01" });
        await gateway.WaitUntilReadyAsync();
        using var client = gateway.Client();
        using var response = await client.GetAsync(new Uri("/api/hang", UriKind.Relative));
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<Dictionary<string, object>>();
        Assert.Equal("UPSTREAM_TIMEOUT", problem!["error_code"].ToString());
    }
}
