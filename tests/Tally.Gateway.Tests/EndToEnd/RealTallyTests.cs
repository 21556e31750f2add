using System.Net.WebSockets;

namespace Tally.Gateway.Tests.EndToEnd;

/// <summary>The gateway in front of real Tally processes (embedded mode, each with its own data folder).</summary>
public sealed class RealTallyTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tally-gateway-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        return Task.CompletedTask;
    }

    private string DataFolder(string name)
    {
        var path = Path.Combine(_root, name);
        Directory.CreateDirectory(path);
        return path;
    }

    [Fact]
    public async Task RegisterLoginTransferAndLiveNotification_WorkThroughTheGateway()
    {
        await using var tally = await TallyProcess.StartAsync(DataFolder("e2e"));
        await using var gateway = GatewayHost.Start([tally.BaseUrl]);
        await gateway.WaitUntilReadyAsync();
        using var client = gateway.Client();

        var suffix = Random.Shared.Next(10_000_000, 99_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var alice = await client.PostAsJsonAsync(new Uri("/api/auth/register", UriKind.Relative), new { phone = "51" + suffix, username = "Alice", password = "alice-secret-1" });
        Assert.Equal(HttpStatusCode.OK, alice.StatusCode);
        using var bob = await client.PostAsJsonAsync(new Uri("/api/auth/register", UriKind.Relative), new { phone = "52" + suffix, username = "Bob", password = "bob-secret-22" });
        Assert.Equal(HttpStatusCode.OK, bob.StatusCode);
        var bobAccount = (await bob.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("account_number").GetString();

        async Task<string> LoginAsync(string phone, string password)
        {
            using var response = await client.PostAsJsonAsync(new Uri("/api/auth/login", UriKind.Relative), new { phone, password });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("session").GetString()!;
        }
        var aliceSession = await LoginAsync("51" + suffix, "alice-secret-1");
        var bobSession = await LoginAsync("52" + suffix, "bob-secret-22");

        using var socket = new ClientWebSocket();
        var wsUrl = new UriBuilder(gateway.BaseUrl) { Scheme = "ws", Path = "/ws", Query = "session=" + Uri.EscapeDataString(bobSession) }.Uri;
        using (var connect = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await socket.ConnectAsync(wsUrl, connect.Token);
        }

        // The server registers a socket just after the upgrade: a transfer made before that notifies no one,
        // so transfer again (a bounded number of times) until Bob's socket, through the gateway, gets one.
        var transferIds = new HashSet<long>();
        JsonElement? notification = null;
        for (var attempt = 0; attempt < 5 && notification is null; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
            {
                Content = JsonContent.Create(new { to_account_number = bobAccount, amount = 500 + attempt, note = "through the gateway" }),
            };
            request.Headers.Add("X-Session", aliceSession);
            request.Headers.Add("Idempotency-Key", $"gw-e2e-{suffix}-{attempt}");
            using var transfer = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, transfer.StatusCode);
            var body = await transfer.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("SUCCESS", body.GetProperty("status").GetString());
            transferIds.Add(body.GetProperty("transfer_id").GetInt64());
            notification = await TryReceiveJsonAsync(socket, TimeSpan.FromSeconds(5));
        }
        Assert.NotNull(notification);
        Assert.Equal("notification", notification.Value.GetProperty("type").GetString());
        Assert.Contains(notification.Value.GetProperty("transfer_id").GetInt64(), transferIds);

        using var balance = new HttpRequestMessage(HttpMethod.Get, "/api/account/balance");
        balance.Headers.Add("X-Session", bobSession);
        using var balanceResponse = await client.SendAsync(balance);
        Assert.Equal(HttpStatusCode.OK, balanceResponse.StatusCode);
        Assert.True((await balanceResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("balance").GetInt64() > 100_000);
        Assert.Single(balanceResponse.Headers.GetValues("X-Request-Id"));
        Assert.Single(balanceResponse.Headers.GetValues("Content-Security-Policy"));

        // Tally's own problems pass through unchanged.
        using var bad = await client.PostAsJsonAsync(new Uri("/api/auth/login", UriKind.Relative), new { phone = "51" + suffix, password = "wrong-password" });
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        Assert.Equal("INVALID_CREDENTIALS", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error_code").GetString());
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    private static async Task<JsonElement?> TryReceiveJsonAsync(WebSocket socket, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, timeout.Token);
                Assert.Equal(WebSocketMessageType.Text, result.MessageType);
                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // A receive that timed out aborts a ClientWebSocket; the caller's next attempt would fail.
            Assert.Equal(WebSocketState.Open, socket.State);
            return null;
        }
    }

    [Fact]
    public async Task KillingOneInstance_UnderSteadyReadLoad_FailsNoGet_AndItRejoinsWhenRestarted()
    {
        var victimPort = TallyProcess.FreePort();
        await using var survivor = await TallyProcess.StartAsync(DataFolder("survivor"));
        var victim = await TallyProcess.StartAsync(DataFolder("victim"), victimPort);
        await using var gateway = GatewayHost.Start([survivor.BaseUrl, victim.BaseUrl], new Dictionary<string, string>
        {
            ["Gateway:HealthChecks:ActiveInterval"] = "00:00:00.500",
            ["Gateway:RateLimits:PerIpPerSecond"] = "1000000",
            ["Gateway:RateLimits:PerIpBurst"] = "1000000",
        });
        await gateway.WaitUntilReadyAsync();
        await Eventually.HoldsAsync(() => gateway.InPool(victim.BaseUrl), TimeSpan.FromSeconds(30), "the victim never joined");

        using var client = gateway.Client();
        var failures = new ConcurrentQueue<string>();
        var okBeforeKill = 0;
        var okAfterKill = 0;
        var killed = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        // A steady load, paced so that a fast machine can't spend the request bound before the scenario ends.
        const int maxRequests = 400_000;
        var sent = 0;

        async Task WorkerAsync()
        {
            while (!stop.IsCancellationRequested && Interlocked.Increment(ref sent) <= maxRequests)
            {
                try
                {
                    using var response = await client.GetAsync(new Uri("/api/auth/health", UriKind.Relative), stop.Token);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        failures.Enqueue($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}");
                    }
                    else
                    {
                        Interlocked.Increment(ref Volatile.Read(ref killed) == 0 ? ref okBeforeKill : ref okAfterKill);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException e)
                {
                    failures.Enqueue(e.Message);
                }
                await Task.Delay(2, CancellationToken.None);
            }
        }

        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(WorkerAsync)).ToArray();
        await Eventually.HoldsAsync(() => Volatile.Read(ref okBeforeKill) >= 200, TimeSpan.FromSeconds(60), "the load never got going");
        await victim.KillAsync();
        Volatile.Write(ref killed, 1);
        var afterKill = Stopwatch.StartNew();
        await Eventually.HoldsAsync(() => !gateway.InPool(victim.BaseUrl), TimeSpan.FromSeconds(30), "the killed instance never left the pool");
        // Keep the load on for a while with the instance out, and at least 300 more reads.
        await Eventually.HoldsAsync(() => afterKill.Elapsed > TimeSpan.FromSeconds(3) && Volatile.Read(ref okAfterKill) >= 300, TimeSpan.FromSeconds(60), "too few reads after the kill");

        // The instance comes back on its port: the active probe lets it rejoin.
        await using var revived = await TallyProcess.StartAsync(DataFolder("victim"), victimPort);
        await Eventually.HoldsAsync(() => gateway.InPool(victim.BaseUrl), TimeSpan.FromSeconds(60), "the restarted instance never rejoined");
        var okAtRejoin = Volatile.Read(ref okAfterKill);
        await Eventually.HoldsAsync(() => Volatile.Read(ref okAfterKill) >= okAtRejoin + 200, TimeSpan.FromSeconds(60), "too few reads after the rejoin");

        await stop.CancelAsync();
        await Task.WhenAll(workers);
        await victim.DisposeAsync();
        Assert.True(failures.IsEmpty, $"{failures.Count} GETs failed, e.g. {string.Join(" | ", failures.Take(5))}");
        Assert.True(sent < maxRequests, "the request bound was reached before the scenario finished");
    }
}
