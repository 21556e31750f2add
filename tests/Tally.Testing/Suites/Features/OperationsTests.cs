using System.Text.RegularExpressions;

namespace Tally.Testing.Suites.Features;

public abstract partial class OperationsTests<TApp>(TApp factory) : IClassFixture<TApp>
    where TApp : TallyTestHost, ITallyMode
{
    [Fact]
    public async Task Health_ReportsTheProcessHealthy()
    {
        using var client = factory.CreateClient();

        var body = await client.GetAsync("/health").AssertJsonAsync();

        Assert.Equal("healthy", body.Str("status"));
    }

    [Fact]
    public async Task Ready_ReportsEachDependency()
    {
        using var client = factory.CreateClient();

        var body = await (await client.GetAsync("/ready")).AssertJsonAsync();

        var checks = body.GetProperty("checks");
        foreach (var dependency in TApp.ReadyDependencies)
        {
            Assert.True(checks.TryGetProperty(dependency, out _), $"/ready has no {dependency} check: {body}");
        }
    }

    [Theory]
    [MemberData(nameof(TallyAreas.HealthEndpoints), MemberType = typeof(TallyAreas))]
    public async Task AreaHealth_ReportsItsService(string path, string service)
    {
        using var client = factory.CreateClient();

        var body = await client.GetAsync(path).AssertJsonAsync();

        Assert.Equal("healthy", body.Str("status"));
        Assert.Equal(service, body.Str("service"));
    }

    [Fact]
    public async Task Metrics_AfterATransfer_ExposeHttpAndTransferSeries()
    {
        var alice = await factory.RegisterAndLoginAsync();
        var bob = await factory.RegisterAndLoginAsync();
        using (var client = factory.CreateClient(alice))
        {
            await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 10 });
        }
        using var apiScraper = factory.CreateClient();
        using var workerScraper = factory.CreateWorkerClient();

        // The exporter may serve a cached scrape for a moment, so poll until the new series show. The transfer
        // counter lives where the handlers run: this process when embedded, the worker process when distributed.
        var text = await TallyTestKit.PollAsync(async () =>
        {
            var api = await ScrapeAsync(apiScraper);
            var worker = await ScrapeAsync(workerScraper);
            return api.Any(l => l.StartsWith("http_", StringComparison.Ordinal)) && worker.Any(l => l.StartsWith("tally_transfers", StringComparison.Ordinal))
                ? string.Join('\n', api) + string.Join('\n', worker)
                : null;
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(250));

        Assert.NotNull(text);
        Assert.Contains("# TYPE", text, StringComparison.Ordinal);
    }

    private static async Task<string[]> ScrapeAsync(HttpClient scraper)
    {
        using var response = await scraper.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadAsStringAsync()).Split('\n');
    }

    [Fact]
    public async Task OpenApi_DocumentListsEveryContractPath()
    {
        using var client = factory.CreateClient();

        var document = await client.GetAsync("/openapi/v1.json").AssertJsonAsync();

        Assert.False(string.IsNullOrEmpty(document.Str("openapi")));
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => Normalize(p.Name)).ToHashSet();
        string[] expected =
        [
            "/api/auth/register", "/api/auth/login", "/api/auth/token", "/api/auth/logout", "/api/auth/health",
            "/api/account/me", "/api/account/balance", "/api/account/lookup", "/api/account/transactions", "/api/account/health",
            "/api/account/admin/stats", "/api/account/admin/users", "/api/account/admin/users/{}", "/api/account/admin/transfers",
            "/api/account/admin/notifications", "/api/account/admin/audit",
            "/api/transfer/transfer", "/api/transfer/confirm", "/api/transfer/cancel", "/api/transfer/{}", "/api/transfer/health",
            "/api/notifications/notifications", "/api/notifications/{}/read", "/api/notifications/health",
        ];
        Assert.All(expected, path => Assert.Contains(path, paths));
    }

    private static string Normalize(string path) => PathParameter().Replace(path, "{}");

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex PathParameter();

    [Fact]
    public async Task Docs_ServeAnHtmlPage()
    {
        using var client = factory.CreateClient();

        var response = await client.GetAsync("/docs");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<html", text, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/api/auth/health")]
    [InlineData("/api/account/me")]
    [InlineData("/no/such/route")]
    public async Task RequestId_IsEchoed(string path)
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Request-Id", "req-test-0123456789");

        var response = await client.SendAsync(request);

        Assert.Equal("req-test-0123456789", Assert.Single(response.Headers.GetValues("X-Request-Id")));
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/api/account/me")]
    [InlineData("/no/such/route")]
    public async Task RequestId_IsGeneratedWhenAbsent(string path)
    {
        using var client = factory.CreateClient();

        var first = await client.GetAsync(path);
        var second = await client.GetAsync(path);

        var firstId = Assert.Single(first.Headers.GetValues("X-Request-Id"));
        var secondId = Assert.Single(second.Headers.GetValues("X-Request-Id"));
        Assert.False(string.IsNullOrWhiteSpace(firstId));
        Assert.NotEqual(firstId, secondId);
    }

    [Theory]
    [InlineData("GET", "/no/such/route", HttpStatusCode.NotFound, "NOT_FOUND")]
    [InlineData("GET", "/api/unknown", HttpStatusCode.NotFound, "NOT_FOUND")]
    [InlineData("GET", "/api/account/nothing-here", HttpStatusCode.NotFound, "NOT_FOUND")]
    [InlineData("GET", "/api/notifications/1/unread", HttpStatusCode.NotFound, "NOT_FOUND")]
    [InlineData("GET", "/api/auth/register", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    [InlineData("PUT", "/api/auth/login", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    [InlineData("DELETE", "/api/account/me", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    [InlineData("POST", "/api/account/balance", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    [InlineData("GET", "/api/transfer/transfer", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    [InlineData("PATCH", "/api/transfer/confirm", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    [InlineData("GET", "/api/notifications/1/read", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    [InlineData("POST", "/health", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    [InlineData("POST", "/ready", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    [InlineData("DELETE", "/metrics", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    [InlineData("DELETE", "/api/account/admin/users", HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED")]
    public async Task UnroutedRequest_IsAProblem(string method, string path, HttpStatusCode status, string errorCode)
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);

        await client.SendAsync(request).AssertProblemAsync(status, errorCode);
    }

    [Fact]
    public async Task Problem_CarriesATraceId()
    {
        using var client = factory.CreateClient();

        var problem = await client.GetAsync("/api/account/me").AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");

        Assert.Equal(JsonValueKind.String, problem.GetProperty("trace_id").ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(problem.Str("detail")));
    }
}
