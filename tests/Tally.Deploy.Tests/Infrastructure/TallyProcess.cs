using Tally.Testing;

namespace Tally.Deploy.Tests.Infrastructure;

/// <summary>
/// The real Tally (the built Tally.Server.dll, embedded mode) as a child process on a free loopback port, its data in a
/// temporary folder, the money audit every second; started once, with a little traffic of every kind, for the tests that
/// read its /metrics.
/// </summary>
public sealed class TallyProcess : IAsyncLifetime
{
    public const string AdminSecret = "deploy-tests-secret";
    private ServerProcess? _server;
    private string? _data;

    public Uri BaseUrl => _server?.BaseUrl ?? throw new InvalidOperationException("Tally has not started");

    public HttpClient Client { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public string Output => _server?.Output ?? "";

    /// <summary>Alice's session, after <see cref="MakeTrafficAsync"/>.</summary>
    public string Session { get; private set; } = "";

    public static int FreePort() => ServerProcess.FreePort();

    public async Task InitializeAsync()
    {
        _data = Directory.CreateTempSubdirectory("tally-deploy-").FullName;
        _server = await ServerProcess.StartAsync(ServerProcess.BuiltDll("Tally.Server"), _data, new Dictionary<string, string>
        {
            ["Storage__DataDirectory"] = _data,
            ["Admin__Secret"] = AdminSecret,
            ["Audit__Interval"] = "00:00:01",
            ["Auth__PasswordIterations"] = "1000",
            ["Logging__LogLevel__Default"] = "Warning",
        }, "/ready");
        await MakeTrafficAsync();
        // The audit and readiness gauges appear once their first run completes.
        await WaitForAsync(
            async () =>
            {
                var metrics = await Client.GetStringAsync(new Uri(BaseUrl, "/metrics"));
                return metrics.Contains("\ntally_ledger_audit_ok{", StringComparison.Ordinal) && metrics.Contains("\ntally_ready{", StringComparison.Ordinal);
            },
            TimeSpan.FromSeconds(60),
            "the audit and readiness gauges in /metrics");
    }

    /// <summary>Two users, logins, transfers (completed, rejected, a hold then cancelled), cached reads twice, a 401 and a 404.</summary>
    public async Task MakeTrafficAsync()
    {
        var alice = await RegisterAsync("5550001111", "Alice", "alice-secret-1");
        var bob = await RegisterAsync("5550002222", "Bob", "bob-secret-22");
        var session = Session = await LoginAsync("5550001111", "alice-secret-1");
        await LoginAsync("5550002222", "bob-secret-22");
        Assert.NotEqual(alice, bob);

        using (var ok = await SendAsync(HttpMethod.Post, "/api/transfer/transfer", session, new { to_account_number = bob, amount = 500 }))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        using (var tooMuch = await SendAsync(HttpMethod.Post, "/api/transfer/transfer", session, new { to_account_number = bob, amount = 999_999_999 }))
        {
            Assert.True((int)tooMuch.StatusCode is >= 400 and < 500, $"overdraft answered {(int)tooMuch.StatusCode}");
        }
        long hold;
        using (var held = await SendAsync(HttpMethod.Post, "/api/transfer/transfer", session, new { to_account_number = bob, amount = 100, instant = false }))
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
            hold = (await held.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transfer_id").GetInt64();
        }
        using (var cancel = await SendAsync(HttpMethod.Post, "/api/transfer/cancel", session, new { transfer_id = hold }))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }
        for (var i = 0; i < 3; i++)
        {
            using var me = await SendAsync(HttpMethod.Get, "/api/account/me", session, null);
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
            using var balance = await SendAsync(HttpMethod.Get, "/api/account/balance", session, null);
            Assert.Equal(HttpStatusCode.OK, balance.StatusCode);
        }
        using (var anonymous = await SendAsync(HttpMethod.Get, "/api/account/me", null, null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }
        using (var audit = new HttpRequestMessage(HttpMethod.Get, new Uri(BaseUrl, "/api/account/admin/audit")))
        {
            audit.Headers.Add("X-Admin-Secret", AdminSecret);
            using var response = await Client.SendAsync(audit);
            Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ok").GetBoolean());
        }
    }

    /// <summary>Two cached reads with Alice's session.</summary>
    public async Task ReadAsync()
    {
        foreach (var path in new[] { "/api/account/me", "/api/account/balance" })
        {
            using var response = await SendAsync(HttpMethod.Get, path, Session, null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private async Task<string> RegisterAsync(string phone, string username, string password)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/auth/register", null, new { phone, username, password });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.IsSuccessStatusCode, body.ToString());
        return body.GetProperty("account_number").GetString()!;
    }

    private async Task<string> LoginAsync(string phone, string password)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/auth/login", null, new { phone, password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("session").GetString()!;
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? session, object? body)
    {
        using var request = new HttpRequestMessage(method, new Uri(BaseUrl, path));
        if (session is not null)
        {
            request.Headers.Add("X-Session", session);
        }
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        return await Client.SendAsync(request);
    }

    public Task WaitForAsync(Func<Task<bool>> condition, TimeSpan limit, string what) =>
        (_server ?? throw new InvalidOperationException("Tally has not started")).WaitForAsync(condition, limit, what);

    public async Task DisposeAsync()
    {
        Client.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        if (_data is not null)
        {
            try
            {
                Directory.Delete(_data, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class TallyCollection : ICollectionFixture<TallyProcess>
{
    public const string Name = "A running Tally";
}
