using System.Net.WebSockets;

namespace Tally.Gateway.Tests.Health;

/// <summary>Overload is not ill health: busy instances stay in the pool, too few healthy ones means panic routing, joiners ramp in.</summary>
public sealed class OverloadTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);

    // Many requests from one test client: the per-IP limit must not be what answers.
    private static Dictionary<string, string> Settings(params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string>
        {
            ["Gateway:RateLimits:PerIpPerSecond"] = "1000000",
            ["Gateway:RateLimits:PerIpBurst"] = "1000000",
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }
        return settings;
    }

    private static Uri DeadBackend() => new($"http://127.0.0.1:{TallyProcess.FreePort()}");

    private static async Task<string> ServedByAsync(HttpClient client, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, "/api/account/balance");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("X-Instance").Single();
    }

    private static async Task<string?> ErrorCodeAsync(HttpResponseMessage response)
    {
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return null;
        }
        var problem = await response.Content.ReadFromJsonAsync<Dictionary<string, object>>();
        return problem!.TryGetValue("error_code", out var code) ? code.ToString() : null;
    }

    [Fact]
    public async Task BusyInstances_SlowToAnswerProbesAndSheddingLoad_StayInThePool_AndTheirOverloadedAnswersReachTheClient()
    {
        await using var a = await StubBackend.StartAsync("a");
        await using var b = await StubBackend.StartAsync("b");
        await using var gateway = GatewayHost.Start([a.Url, b.Url], Settings(("Gateway:HealthChecks:ActiveTimeout", "00:00:00.200")));
        await gateway.WaitUntilReadyAsync();

        // Both turn busy: /ready answers well after the probe timeout, and most requests are shed.
        foreach (var stub in new[] { a, b })
        {
            stub.ReadyDelayMilliseconds = 1000;
            stub.OverloadedPercent = 80;
        }
        var probesA = a.ReadyProbes;
        var probesB = b.ReadyProbes;
        using var client = gateway.Client();
        int ok = 0, overloaded = 0;
        var other = new List<string>();
        // A steady stream over several probe rounds, each of which times out.
        var clock = Stopwatch.StartNew();
        while (a.ReadyProbes < probesA + 3 || b.ReadyProbes < probesB + 3)
        {
            Assert.True(clock.Elapsed < s_limit, "the probes never came round three times");
            using var response = await client.GetAsync(new Uri("/api/account/balance", UriKind.Relative));
            var code = await ErrorCodeAsync(response);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                ok++;
            }
            else if (response.StatusCode == HttpStatusCode.ServiceUnavailable && code == "OVERLOADED")
            {
                Assert.Equal(TimeSpan.FromSeconds(StubBackend.OverloadedRetryAfterSeconds), response.Headers.RetryAfter?.Delta);
                overloaded++;
            }
            else
            {
                other.Add($"{(int)response.StatusCode} {code}");
            }
        }

        Assert.Empty(other);
        Assert.True(overloaded > 0 && ok > 0, $"{ok} answered, {overloaded} shed");
        Assert.True(gateway.InPool(a.Url), "a busy instance was ejected");
        Assert.True(gateway.InPool(b.Url), "a busy instance was ejected");
        Assert.True(a.Hits > 0 && b.Hits > 0);
    }

    [Fact]
    public async Task AnswersSlowerThanTheUpstreamTimeout_DoNotEjectTheInstancePassively()
    {
        await using var a = await StubBackend.StartAsync("a");
        await using var b = await StubBackend.StartAsync("b");
        await using var gateway = GatewayHost.Start([a.Url, b.Url], Settings(
            ("Gateway:Limits:UpstreamTimeout", "00:00:00.300"),
            ("Gateway:HealthChecks:PassiveMinimalRequests", "2")));
        await gateway.WaitUntilReadyAsync();
        using var client = gateway.Client();

        var slow = Enumerable.Range(0, 8).Select(_ => client.GetAsync(new Uri("/api/hang", UriKind.Relative))).ToArray();
        foreach (var task in slow)
        {
            using var response = await task;
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.Equal("UPSTREAM_TIMEOUT", await ErrorCodeAsync(response));
        }
        Assert.True(a.Hits >= 2 && b.Hits >= 2, $"a saw {a.Hits}, b saw {b.Hits}");
        Assert.True(gateway.InPool(a.Url), "a slow instance was ejected");
        Assert.True(gateway.InPool(b.Url), "a slow instance was ejected");
    }

    [Fact]
    public async Task InstanceRefusingConnections_IsStillEjectedPassively()
    {
        await using var live = await StubBackend.StartAsync("live");
        var dead = DeadBackend();
        await using var gateway = GatewayHost.Start([dead, live.Url], Settings(
            ("Gateway:LoadBalancingPolicy", "RoundRobin"),
            ("Gateway:HealthChecks:ActiveEnabled", "false"),
            ("Gateway:HealthChecks:PassiveMinimalRequests", "2")));
        using var client = gateway.Client();
        await Eventually.HoldsAsync(async () =>
        {
            Assert.Equal("live", await ServedByAsync(client));
            return !gateway.InPool(dead);
        }, s_limit, "the instance refusing connections never left the pool");
        Assert.True(gateway.InPool(live.Url));
    }

    [Fact]
    public async Task PanicThreshold_OneOfTwoNotReady_GoesToTheReadyOne_BothNotReady_GoesToBoth()
    {
        await using var a = await StubBackend.StartAsync("a");
        await using var b = await StubBackend.StartAsync("b");
        await using var gateway = GatewayHost.Start([a.Url, b.Url], Settings());
        await gateway.WaitUntilReadyAsync();
        using var client = gateway.Client();

        b.Ready = false;
        await Eventually.HoldsAsync(() => !gateway.Routed(b.Url), s_limit, "b never left the pool");
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal("a", await ServedByAsync(client));
        }
        Assert.False(gateway.InPanic());
        Assert.Equal(0, gateway.Gauge("tally.gateway.panic").Single().Value);

        a.Ready = false;
        await Eventually.HoldsAsync(() => !gateway.InPool(a.Url) && gateway.Routed(a.Url) && gateway.Routed(b.Url), s_limit, "a never left the pool");
        var served = new HashSet<string>();
        for (var i = 0; i < 60; i++)
        {
            served.Add(await ServedByAsync(client));
        }
        Assert.Equal(new[] { "a", "b" }, served.Order().ToArray());
        Assert.True(gateway.InPanic());
        Assert.Equal(1, gateway.Gauge("tally.gateway.panic").Single().Value);
        // A gateway that routes stays in its own load balancer's pool.
        using var ready = await client.GetAsync(new Uri("/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        a.Ready = true;
        await Eventually.HoldsAsync(() => !gateway.InPanic(), s_limit, "the panic never ended");
        Assert.Equal(0, gateway.Gauge("tally.gateway.panic").Single().Value);
    }

    [Fact]
    public async Task PanicRouting_SkipsAnInstanceThatRefusesConnections()
    {
        await using var notReady = await StubBackend.StartAsync("not-ready");
        notReady.Ready = false;
        var dead = DeadBackend();
        await using var gateway = GatewayHost.Start([notReady.Url, dead], Settings());
        await Eventually.HoldsAsync(() => !gateway.InPool(notReady.Url) && !gateway.InPool(dead) && gateway.InPanic() && !gateway.Routed(dead), s_limit, "the instances never left the pool");
        using var client = gateway.Client();
        // A write without an Idempotency-Key is never retried: each one shows where panic routing sent it.
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("not-ready", await ServedByAsync(client, HttpMethod.Post));
        }
    }

    [Fact]
    public async Task SlowStart_AnInstanceThatJoins_GetsASmallShareFirst_ThatGrowsToAFullOne()
    {
        await using var a = await StubBackend.StartAsync("a");
        await using var b = await StubBackend.StartAsync("b");
        b.Ready = false;
        await using var gateway = GatewayHost.Start([a.Url, b.Url], Settings(("Gateway:HealthChecks:SlowStartWindow", "00:00:03")));
        await gateway.WaitUntilReadyAsync();
        using var client = gateway.Client();
        await Eventually.HoldsAsync(() => !gateway.Routed(b.Url) && gateway.Weight(a.Url) >= 1.0, s_limit, "a never had the pool to itself at full weight");

        b.Ready = true;
        // Bucket each request by b's weight as the gateway sends it: joined and still light, or fully ramped.
        int early = 0, earlyB = 0, late = 0, lateB = 0;
        var clock = Stopwatch.StartNew();
        while (late < 300)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "b never reached its full weight");
            var joined = gateway.Routed(b.Url);
            var weight = gateway.Weight(b.Url);
            var servedBy = await ServedByAsync(client);
            if (joined && weight <= 0.3)
            {
                early++;
                earlyB += servedBy == "b" ? 1 : 0;
            }
            else if (joined && weight >= 1.0)
            {
                late++;
                lateB += servedBy == "b" ? 1 : 0;
            }
        }

        Assert.True(early >= 30, $"only {early} requests while b was light");
        var earlyShare = (double)earlyB / early;
        var lateShare = (double)lateB / late;
        Assert.True(earlyShare < lateShare, $"b's share did not grow: {earlyShare:F2} while light, {lateShare:F2} at full weight");
        Assert.True(earlyShare < 0.3, $"b's share while light was {earlyShare:F2} of {early}");
        Assert.True(lateShare > 0.3, $"b's share at full weight was {lateShare:F2} of {late}");
        var weights = gateway.Gauge("tally.gateway.upstream.weight");
        Assert.Equal(1.0, weights.Single(w => Equals(w.Tags["destination"], "api-1")).Value);
        Assert.Equal(1.0, weights.Single(w => Equals(w.Tags["destination"], "api-0")).Value);
    }

    [Fact]
    public async Task OverloadedAnswer_PassesThroughOnce_WithItsRetryAfter_AndIsNotRetriedElsewhere()
    {
        await using var a = await StubBackend.StartAsync("a");
        await using var b = await StubBackend.StartAsync("b");
        await using var gateway = GatewayHost.Start([a.Url, b.Url], Settings());
        await gateway.WaitUntilReadyAsync();
        a.OverloadedPercent = 100;
        b.OverloadedPercent = 100;
        using var client = gateway.Client();
        for (var i = 0; i < 10; i++)
        {
            using var request = new HttpRequestMessage(i % 2 == 0 ? HttpMethod.Get : HttpMethod.Post, "/api/transfer/transfer");
            if (request.Method == HttpMethod.Post)
            {
                request.Content = new StringContent("{\"amount\":5}", Encoding.UTF8, "application/json");
                request.Headers.Add("Idempotency-Key", $"key-{i}");
            }
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("OVERLOADED", await ErrorCodeAsync(response));
            Assert.Equal(TimeSpan.FromSeconds(StubBackend.OverloadedRetryAfterSeconds), response.Headers.RetryAfter?.Delta);
        }
        Assert.Equal(10, a.Overloaded + b.Overloaded);
        Assert.True(gateway.InPool(a.Url) && gateway.InPool(b.Url));
    }

    private static async Task<Dictionary<string, string>> SeenAsync(GatewayHost gateway, string? requestTimeout)
    {
        using var client = gateway.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/account/me");
        if (requestTimeout is not null)
        {
            request.Headers.TryAddWithoutValidation("Request-Timeout", requestTimeout);
        }
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<Dictionary<string, string>>())!;
    }

    private static int Milliseconds(string value)
    {
        Assert.EndsWith("ms", value, StringComparison.Ordinal);
        return int.Parse(value[..^2], CultureInfo.InvariantCulture);
    }

    [Theory]
    [InlineData("1500ms", 1500)]
    [InlineData("1s", 1000)]
    [InlineData("700", 700)]
    [InlineData("60s", 2000)]
    [InlineData(null, 2000)]
    [InlineData("soon", 2000)]
    public async Task RequestTimeout_ReachingTheInstance_IsWhatIsLeftOfTheClientsOrTheGatewaysBudget(string? given, int atMostMilliseconds)
    {
        await using var stub = await StubBackend.StartAsync("stub");
        await using var gateway = GatewayHost.Start([stub.Url], Settings(("Gateway:Limits:RequestTimeout", "00:00:02")));
        await gateway.WaitUntilReadyAsync();
        var seen = await SeenAsync(gateway, given);
        Assert.InRange(Milliseconds(seen["h:request-timeout"]), 1, atMostMilliseconds);
    }

    [Fact]
    public async Task WebSocket_HasNoDeadline_AndOutlivesTheUpstreamTimeoutWhileIdle()
    {
        await using var stub = await StubBackend.StartAsync("stub");
        await using var gateway = GatewayHost.Start([stub.Url], Settings(("Gateway:Limits:UpstreamTimeout", "00:00:00.300")));
        await gateway.WaitUntilReadyAsync();
        using var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(s_limit);
        await socket.ConnectAsync(new UriBuilder(gateway.BaseUrl) { Scheme = "ws", Path = "/ws" }.Uri, timeout.Token);
        var buffer = new byte[1024];
        for (var i = 0; i < 2; i++)
        {
            // Idle for longer than the upstream timeout each time.
            await Task.Delay(TimeSpan.FromSeconds(1), timeout.Token);
            await socket.SendAsync(Encoding.UTF8.GetBytes($"ping-{i}"), WebSocketMessageType.Text, true, timeout.Token);
            var received = await socket.ReceiveAsync(buffer, timeout.Token);
            Assert.Equal($"stub:ping-{i}", Encoding.UTF8.GetString(buffer, 0, received.Count));
        }
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        var upgrade = Assert.Single(stub.Requests, r => r["path"] == "/ws");
        Assert.False(upgrade.ContainsKey("h:request-timeout"));
    }

    [Fact]
    public async Task ConcurrencyCap_ARequestQueuedPastTheShortQueueTimeout_Gets503WithRetryAfter_WhileTheCapIsStillHeld()
    {
        await using var stub = await StubBackend.StartAsync("stub");
        await using var gateway = GatewayHost.Start([stub.Url], Settings(
            ("Gateway:Limits:MaxConcurrentRequests", "1"),
            ("Gateway:Limits:QueueLimit", "10"),
            ("Gateway:Limits:UpstreamTimeout", "00:01:00")));
        await gateway.WaitUntilReadyAsync();
        using var client = gateway.Client();
        var held = client.GetAsync(new Uri("/api/hold", UriKind.Relative));
        await Eventually.HoldsAsync(() => stub.Held == 1, s_limit, "the held request never reached the instance");

        using (var refused = await client.GetAsync(new Uri("/api/account/balance", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("GATEWAY_OVERLOADED", await ErrorCodeAsync(refused));
            Assert.NotNull(refused.Headers.RetryAfter?.Delta);
        }
        Assert.False(held.IsCompleted);
        stub.OpenGate();
        using var answered = await held;
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("reason=\"queue_timeout\"", metrics, StringComparison.Ordinal);
    }
}
