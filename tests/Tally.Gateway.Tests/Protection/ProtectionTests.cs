using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tally.Gateway.Tests.Protection;

public sealed class ProtectionTests : IAsyncLifetime
{
    private const string Csp =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

    private StubBackend _stub = null!;

    public async Task InitializeAsync() => _stub = await StubBackend.StartAsync("stub");

    public async Task DisposeAsync() => await _stub.DisposeAsync();

    private async Task<GatewayHost> GatewayAsync(params (string Key, string Value)[] settings)
    {
        var gateway = GatewayHost.Start([_stub.Url], settings.ToDictionary(s => s.Key, s => s.Value));
        await gateway.WaitUntilReadyAsync();
        return gateway;
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string errorCode)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<Dictionary<string, object>>();
        Assert.Equal(errorCode, problem!["error_code"].ToString());
        Assert.Equal((int)status, int.Parse(problem["status"].ToString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.False(string.IsNullOrWhiteSpace(problem["detail"].ToString()));
        Assert.Matches("^[0-9a-f]{32}$", problem["trace_id"].ToString());
    }

    private static void AssertRetryAfter(HttpResponseMessage response)
    {
        var delta = response.Headers.RetryAfter?.Delta;
        Assert.NotNull(delta);
        Assert.InRange(delta.Value.TotalSeconds, 1, 3600);
    }

    private static HttpRequestMessage Get(string path, string? session = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (session is not null)
        {
            request.Headers.Add("X-Session", session);
        }
        return request;
    }

    [Fact]
    public async Task PerIpLimit_Answers429ProblemWithRetryAfter()
    {
        await using var gateway = await GatewayAsync(("Gateway:RateLimits:PerIpPerSecond", "1"), ("Gateway:RateLimits:PerIpBurst", "3"));
        using var client = gateway.Client();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 30 && refused is null; i++)
        {
            var response = await client.SendAsync(Get("/api/account/balance"));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                response.Dispose();
            }
        }
        Assert.NotNull(refused);
        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "RATE_LIMITED");
        AssertRetryAfter(refused);
        // The operations endpoints stay reachable while a client is limited.
        using var health = await client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        refused.Dispose();
    }

    [Fact]
    public async Task PerSessionLimit_RefusesOneSession_WhileOthersAndAnonymousCallsPass()
    {
        await using var gateway = await GatewayAsync(("Gateway:RateLimits:PerSessionPerSecond", "1"), ("Gateway:RateLimits:PerSessionBurst", "2"));
        using var client = gateway.Client();
        var refused = false;
        for (var i = 0; i < 30 && !refused; i++)
        {
            using var response = await client.SendAsync(Get("/api/account/balance", "session-a"));
            refused = response.StatusCode == HttpStatusCode.TooManyRequests;
            if (refused)
            {
                await AssertProblemAsync(response, HttpStatusCode.TooManyRequests, "RATE_LIMITED");
                AssertRetryAfter(response);
            }
        }
        Assert.True(refused, "session-a was never limited");

        using var other = await client.SendAsync(Get("/api/account/balance", "session-b"));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        using var bearer = Get("/api/account/balance");
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "session-c");
        using var bearerResponse = await client.SendAsync(bearer);
        Assert.Equal(HttpStatusCode.OK, bearerResponse.StatusCode);
        using var anonymous = await client.SendAsync(Get("/api/account/balance"));
        Assert.Equal(HttpStatusCode.OK, anonymous.StatusCode);
    }

    [Fact]
    public async Task Login_HasItsOwnLimitPerIp_TooManyAttempts_WhileOtherCallsPass()
    {
        await using var gateway = await GatewayAsync(("Gateway:RateLimits:LoginPerIpPerMinute", "2"));
        using var client = gateway.Client();
        for (var i = 0; i < 2; i++)
        {
            using var ok = await client.PostAsJsonAsync(new Uri("/api/auth/login", UriKind.Relative), new { phone = "5550001111", password = "x" });
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        using var refused = await client.PostAsJsonAsync(new Uri("/api/auth/token", UriKind.Relative), new { phone = "5550001111", password = "x" });
        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "TOO_MANY_ATTEMPTS");
        AssertRetryAfter(refused);
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);

        using var read = await client.SendAsync(Get("/api/account/balance"));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task Transfer_HasItsOwnLimitPerSession_WhileReadsOfThatSessionPass()
    {
        await using var gateway = await GatewayAsync(("Gateway:RateLimits:TransferPerSessionPerSecond", "1"), ("Gateway:RateLimits:TransferPerSessionBurst", "2"));
        using var client = gateway.Client();
        Task<HttpResponseMessage> SendAsync(string session)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
            {
                Content = new StringContent("{\"amount\":1}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("X-Session", session);
            return client.SendAsync(request);
        }
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 30 && refused is null; i++)
        {
            var response = await SendAsync("writer-a");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
            }
            else
            {
                response.Dispose();
            }
        }
        Assert.NotNull(refused);
        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "RATE_LIMITED");
        AssertRetryAfter(refused);
        refused.Dispose();

        using var otherSession = await SendAsync("writer-b");
        Assert.Equal(HttpStatusCode.OK, otherSession.StatusCode);
        using var read = await client.SendAsync(Get("/api/account/balance", "writer-a"));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task Body_OverTheLimit_Is413Problem_DeclaredOrStreamed()
    {
        await using var gateway = await GatewayAsync(("Gateway:Limits:MaxBodyBytes", "1024"));
        using var client = gateway.Client();

        using var declared = await client.PostAsync(new Uri("/api/transfer/transfer", UriKind.Relative),
            new StringContent(new string('x', 2000), Encoding.UTF8, "application/json"));
        await AssertProblemAsync(declared, HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");

        // A chunked body declares no length: Kestrel cuts it off at the limit as YARP streams it. The client
        // gets the 413 problem, or, when the rest of its body arrives after the gateway has answered and closed
        // (a race inherent to HTTP/1.1), a reset connection. Either way no instance receives the body whole.
        var streamed = new StreamContent(new UnknownLengthStream(new byte[1100]));
        streamed.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        try
        {
            using var chunked = await client.PostAsync(new Uri("/api/transfer/transfer?streamed=1", UriKind.Relative), streamed);
            await AssertProblemAsync(chunked, HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
        }
        catch (HttpRequestException e) when (e.InnerException is HttpIOException or IOException)
        {
        }
        Assert.DoesNotContain(_stub.Requests, r => r["path"] == "/api/transfer/transfer" && r.TryGetValue("body_length", out var length) && length == "1100");

        using var fits = await client.PostAsync(new Uri("/api/transfer/transfer", UriKind.Relative),
            new StringContent(new string('x', 1000), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, fits.StatusCode);
    }

    [Theory]
    [InlineData("/api/account/balance")]
    [InlineData("/")]
    [InlineData("/health")]
    [InlineData("/ready")]
    public async Task SecurityHeaders_ArePresentOnProxiedAndOwnAnswers_AndHstsOnlyOverHttps(string path)
    {
        await using var gateway = await GatewayAsync();
        using var client = gateway.Client();
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Csp, Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.False(response.Headers.Contains("Strict-Transport-Security"), "HSTS must not be sent over plain HTTP");
        Assert.False(response.Headers.Contains("Server"));
    }

    [Fact]
    public async Task Hsts_IsSentOverHttps_AndTheInstanceIsToldTheRequestWasHttps()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var certificate = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
        await using var gateway = GatewayHost.Start([_stub.Url], httpsCertificate: certificate);
        Assert.Equal("https", gateway.BaseUrl.Scheme);
        await gateway.WaitUntilReadyAsync();
        using var client = gateway.Client();
        using var response = await client.GetAsync(new Uri("/api/account/balance", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("max-age=31536000; includeSubDomains", Assert.Single(response.Headers.GetValues("Strict-Transport-Security")));
        Assert.Equal(Csp, Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
        var seen = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
        Assert.Equal("https", seen!["h:x-forwarded-proto"]);
    }

    [Fact]
    public async Task SecurityHeaders_ArePresentOnRefusals()
    {
        await using var gateway = await GatewayAsync(("Gateway:Limits:MaxBodyBytes", "10"));
        using var client = gateway.Client();
        using var response = await client.PostAsync(new Uri("/api/transfer/transfer", UriKind.Relative), new StringContent(new string('x', 100)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(Csp, Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Single(response.Headers.GetValues("X-Request-Id"));
    }

    [Fact]
    public async Task Cors_AllowsOnlyConfiguredOrigins()
    {
        await using var gateway = await GatewayAsync(("Gateway:CorsOrigins:0", "http://app.example"));
        using var client = gateway.Client();
        async Task<HttpResponseMessage> PreflightAsync(string origin)
        {
            var request = new HttpRequestMessage(HttpMethod.Options, "/api/transfer/transfer");
            request.Headers.Add("Origin", origin);
            request.Headers.Add("Access-Control-Request-Method", "POST");
            request.Headers.Add("Access-Control-Request-Headers", "x-session,content-type");
            return await client.SendAsync(request);
        }
        using var allowed = await PreflightAsync("http://app.example");
        Assert.Equal("http://app.example", Assert.Single(allowed.Headers.GetValues("Access-Control-Allow-Origin")));
        using var other = await PreflightAsync("http://evil.example");
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));

        using var simple = new HttpRequestMessage(HttpMethod.Get, "/api/account/balance");
        simple.Headers.Add("Origin", "http://app.example");
        using var response = await client.SendAsync(simple);
        Assert.Equal("http://app.example", Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
    }

    [Fact]
    public async Task ConcurrencyCap_AnswersImmediate503_WhileTheCapIsHeld_InsteadOfQueueingWithoutBound()
    {
        await using var gateway = await GatewayAsync(
            ("Gateway:Limits:MaxConcurrentRequests", "2"),
            ("Gateway:Limits:QueueLimit", "1"),
            ("Gateway:Limits:QueueTimeout", "00:01:00"),
            // The queue wait is bounded by the request's deadline too: make that long as well.
            ("Gateway:Limits:RequestTimeout", "00:01:00"),
            ("Gateway:Limits:UpstreamTimeout", "00:01:00"));
        using var client = gateway.Client();
        var held = Enumerable.Range(0, 2).Select(_ => client.GetAsync(new Uri("/api/hold", UriKind.Relative))).ToList();
        await Eventually.HoldsAsync(() => _stub.Held == 2, TimeSpan.FromSeconds(30), "the two held requests never reached the instance");

        // Two more: one takes the single queue slot, the other finds the queue full.
        var third = client.GetAsync(new Uri("/api/hold", UriKind.Relative));
        var fourth = client.GetAsync(new Uri("/api/hold", UriKind.Relative));
        var first = await Task.WhenAny(third, fourth);
        using (var refused = await first)
        {
            await AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "GATEWAY_OVERLOADED");
            AssertRetryAfter(refused);
        }
        // It was answered while the cap was still held: nothing held or queued has finished.
        Assert.All(held, task => Assert.False(task.IsCompleted));
        var queued = first == third ? fourth : third;
        Assert.False(queued.IsCompleted);
        Assert.Equal(2, _stub.Held);
        using (var health = await client.GetAsync(new Uri("/health", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        _stub.OpenGate();
        foreach (var task in held.Append(queued))
        {
            using var response = await task;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("tally_gateway_rejected_total{otel_scope_name=\"Tally.Gateway\",reason=\"queue_full\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_ShowPerRouteRateErrorsAndLatency_AndUpstreamHealth()
    {
        await using var gateway = await GatewayAsync();
        using var client = gateway.Client();
        using (var ok = await client.GetAsync(new Uri("/api/account/balance", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        using (var login = await client.PostAsJsonAsync(new Uri("/api/auth/login", UriKind.Relative), new { phone = "1" }))
        {
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        }
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("http_route=\"/api/{**rest}\"", metrics, StringComparison.Ordinal);
        Assert.Contains("http_route=\"/api/auth/login\"", metrics, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration_seconds_bucket", metrics, StringComparison.Ordinal);
        Assert.Equal(1, await gateway.UpstreamHealthyAsync(_stub.Url));
    }

    /// <summary>A body whose length HttpClient can't know, so it is sent chunked.</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
