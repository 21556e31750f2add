using System.Net.WebSockets;
using Microsoft.AspNetCore.TestHost;
using StackExchange.Redis;
using Tally.Server.Cache;
using Tally.Server.Features.Notifications;

namespace Tally.Redis.Tests;

/// <summary>Two api instances, A and B, on one PostgreSQL database and one Redis (through its sentinels).</summary>
[Collection(SharedServicesCollection.Name)]
public sealed class CrossInstanceTests(SharedServices services)
{
    [Fact]
    public async Task BalanceAndMe_OnA_AreFreshRightAfterATransferThroughB()
    {
        var (a, b, alice, bob) = await services.PairWithUsersAsync("fresh");
        var expectedAlice = 100_000L;
        var expectedBob = 100_000L;
        for (var i = 1; i <= 25; i++)
        {
            // Warm both instances' caches (L1 and L2), then write through the other one.
            Assert.Equal(expectedAlice, await a.BalanceAsync(alice));
            Assert.Equal(expectedBob, await a.MeBalanceAsync(bob));
            Assert.Equal(expectedAlice, await b.MeBalanceAsync(alice));
            Assert.Equal(expectedBob, await b.BalanceAsync(bob));
            var (writer, from, to) = i % 2 == 0 ? (b, alice, bob) : (a, bob, alice);
            await writer.TransferAsync(from, to, i);
            if (from == alice)
            {
                expectedAlice -= i;
                expectedBob += i;
            }
            else
            {
                expectedBob -= i;
                expectedAlice += i;
            }
            var reader = writer == a ? b : a;
            Assert.Equal(expectedAlice, await reader.BalanceAsync(alice));
            Assert.Equal(expectedAlice, await reader.MeBalanceAsync(alice));
            Assert.Equal(expectedBob, await reader.BalanceAsync(bob));
            Assert.Equal(expectedBob, await reader.MeBalanceAsync(bob));
        }
        // The reads above were served from the cache (L1/L2), not only from the database, and L2 is in Redis.
        Assert.True(a.Services.GetRequiredService<CacheMetrics>().Hits > 0);
        Assert.True(b.Services.GetRequiredService<CacheMetrics>().Hits > 0);
        var prefix = a.Services.GetRequiredService<RedisConnection>().Prefix;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(services.Redis);
        var keys = new List<string>();
        foreach (var endpoint in redis.GetEndPoints())
        {
            var server = redis.GetServer(endpoint);
            if (!server.IsReplica)
            {
                keys.AddRange(server.Keys(pattern: prefix + "*").Select(k => k.ToString()));
            }
        }
        Assert.Contains(keys, k => k.Contains("bal:" + alice.Id + ":", StringComparison.Ordinal));
        Assert.Contains(prefix + "acct:ver:" + alice.Id, keys);
        await a.AssertAuditOkAsync();
    }

    [Fact]
    public async Task BalanceOnA_IsNeverStaleAfterAWriteThroughBReturns_WhileOtherReadsRaceTheWrites()
    {
        var (a, b, alice, bob) = await services.PairWithUsersAsync("race");
        using var stop = new CancellationTokenSource();
        // Background readers on both instances keep filling the caches, racing every write.
        var readers = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            var app = i % 2 == 0 ? a : b;
            using var client = app.CreateClient((i < 2 ? alice : bob).Session);
            while (!stop.IsCancellationRequested)
            {
                using var response = await client.GetAsync("/api/account/balance");
            }
        })).ToList();
        var expected = 100_000L;
        for (var i = 1; i <= 40; i++)
        {
            await b.TransferAsync(alice, bob, i);
            expected -= i;
            Assert.Equal(expected, await a.BalanceAsync(alice));
            Assert.Equal(100_000 + (100_000 - expected), await a.BalanceAsync(bob));
        }
        await stop.CancelAsync();
        await Task.WhenAll(readers);
        Assert.True(a.Services.GetRequiredService<CacheMetrics>().Hits > 0);
    }

    [Fact]
    public async Task Lookup_OnA_FindsAnAccountRegisteredThroughB_AndMissesAreNotCached()
    {
        var (a, b) = await services.PairAsync("lookup");
        var alice = await a.RegisterAndLoginAsync();
        using var client = a.CreateClient(alice.Session);
        using var missing = await client.GetAsync("/api/account/lookup?account_number=000000000001");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var bob = await b.RegisterAndLoginAsync();
        for (var i = 0; i < 3; i++)
        {
            var found = await (await client.GetAsync("/api/account/lookup?account_number=" + bob.AccountNumber)).AssertJsonAsync();
            Assert.Equal(bob.AccountNumber, found.GetProperty("account_number").GetString());
        }
    }

    [Fact]
    public async Task LogoutOnA_RevokesTheSessionOnB_WithinASecond()
    {
        var (a, b) = await services.PairAsync("revoke");
        var user = await a.RegisterAndLoginAsync();
        using var onB = b.CreateClient(user.Session);
        (await onB.GetAsync("/api/account/me")).EnsureSuccessStatusCode();
        using var onA = a.CreateClient(user.Session);
        Assert.Equal(HttpStatusCode.NoContent, (await onA.PostAsync("/api/auth/logout", null)).StatusCode);
        var took = await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(1), async () =>
        {
            using var response = await onB.GetAsync("/api/account/me");
            return response.StatusCode == HttpStatusCode.Unauthorized;
        }, intervalMs: 10);
        Assert.True(took is not null, "B still accepted the session 1 s after the logout on A");
        Assert.Equal(HttpStatusCode.Unauthorized, (await onA.GetAsync("/api/account/balance")).StatusCode);
    }

    [Fact]
    public async Task LoginThrottle_CountsAttemptsAcrossAAndB()
    {
        var (a, b) = await services.PairAsync("throttle", new Dictionary<string, string?> { ["Auth:LoginPermitsPerPhonePerMinute"] = "5" });
        // The window is a fixed minute: don't start right before it rolls over.
        if (DateTime.UtcNow.Second >= 50)
        {
            await Task.Delay(TimeSpan.FromSeconds(61 - DateTime.UtcNow.Second));
        }
        var user = await a.RegisterAndLoginAsync(); // 1 attempt
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            using var client = (i % 2 == 0 ? a : b).CreateClient();
            using var response = await client.PostAsJsonAsync("/api/auth/login", new { phone = user.Phone, password = "wrong password!" });
            statuses.Add(response.StatusCode);
        }
        // 5 permits per minute in all: at most 5 attempts are answered (1 login + 4 here), then 429 on either instance.
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.True(statuses.Count(s => s == HttpStatusCode.Unauthorized) <= 4, string.Join(",", statuses));
        using var last = b.CreateClient();
        using var blocked = await last.PostAsJsonAsync("/api/auth/login", new { phone = user.Phone, password = user.Password });
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.True(blocked.Headers.RetryAfter is not null);
    }

    [Fact]
    public async Task RegistrationLimit_CountsRegistrationsAcrossAAndB_AndARefusalWritesNothing()
    {
        var (a, b) = await services.PairAsync("reglimit", new Dictionary<string, string?> { ["Auth:RegistrationsPerIpPerMinute"] = "3" });
        // The window is a fixed minute: don't start right before it rolls over.
        if (DateTime.UtcNow.Second >= 50)
        {
            await Task.Delay(TimeSpan.FromSeconds(61 - DateTime.UtcNow.Second));
        }
        var statuses = new List<HttpStatusCode>();
        string? retryAfter = null;
        for (var i = 0; i < 6; i++)
        {
            // A, B, A, B, ...: each instance alone would allow 3 of its own, 6 in all.
            using var client = (i % 2 == 0 ? a : b).CreateClient();
            using var response = await client.PostAsJsonAsync("/api/auth/register", new { phone = TallyTestKit.NewPhone(), username = "Reg", password = "correct horse battery" });
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                await response.AssertProblemAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_ATTEMPTS");
                retryAfter ??= response.Headers.RetryAfter?.ToString();
            }
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        Assert.NotNull(retryAfter);
        using var admin = b.CreateAdminClient();
        var stats = await (await admin.GetAsync("/api/account/admin/stats")).AssertJsonAsync();
        Assert.Equal(3, stats.GetProperty("total_users").GetInt64());
        await a.AssertAuditOkAsync();
    }

    [Fact]
    public async Task WebSocketOnA_ReceivesTheNotificationOfATransferThroughB_WithinASecond()
    {
        var (a, b, receiver, sender) = await services.PairWithUsersAsync("ws");
        var subscribed = await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(10), () => Task.FromResult(
            a.Services.GetRequiredService<RedisNotificationPublisher>().IsSubscribed && b.Services.GetRequiredService<RedisNotificationPublisher>().IsSubscribed));
        Assert.True(subscribed is not null, "The instances did not subscribe to the notification channel");

        using var connectTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var socket = await a.Server.CreateWebSocketClient().ConnectAsync(new Uri(a.Server.BaseAddress, "/ws?session=" + Uri.EscapeDataString(receiver.Session)), connectTimeout.Token);
        var hub = a.Services.GetRequiredService<NotificationHub>();
        Assert.NotNull(await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(5), () => Task.FromResult(hub.ConnectionCount == 1), intervalMs: 10));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var transfer = await b.TransferAsync(sender, receiver, 4321);
        var frame = await ReceiveAsync(socket, TimeSpan.FromSeconds(1));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1.5), $"took {watch.Elapsed}");
        Assert.Equal("notification", frame.GetProperty("type").GetString());
        Assert.Equal(transfer.GetProperty("transfer_id").GetInt64(), frame.GetProperty("transfer_id").GetInt64());
        Assert.Equal(4321, frame.GetProperty("amount").GetInt64());
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    [Fact]
    public async Task Ready_ReportsTheRedisCacheHealthy()
    {
        var (a, _) = await services.PairAsync("ready");
        var healthy = await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(10), async () =>
            (await a.ReadyAsync()).GetProperty("checks").GetProperty("cache").GetProperty("status").GetString() == "healthy");
        Assert.True(healthy is not null, (await a.ReadyAsync()).ToString());
    }

    internal static async Task<JsonElement> ReceiveAsync(WebSocket socket, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, timeout.Token);
            Assert.Equal(WebSocketMessageType.Text, result.MessageType);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                using var document = JsonDocument.Parse(message.ToArray());
                return document.RootElement.Clone();
            }
        }
    }
}
