using StackExchange.Redis;
using Tally.Server.Cache;

namespace Tally.Redis.Tests;

/// <summary>kill -9 of the Redis master, on a set of services of its own.</summary>
public sealed class RedisFailoverTests(FailoverServices services, ITestOutputHelper output) : IClassFixture<FailoverServices>
{
    [Fact]
    public async Task KillingTheRedisMaster_SentinelPromotesTheReplica_AndTallyServesAgainWithin10s()
    {
        var (a, b, alice, bob) = await services.PairWithUsersAsync("failover");
        await a.TransferAsync(alice, bob, 100);
        Assert.Equal(99_900, await b.BalanceAsync(alice));
        Assert.NotNull(await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(10), async () => (await a.ReadyAsync()).GetProperty("status").GetString() == "healthy"));

        var (code, killed, stderr) = await services.RunAsync("kill-redis-master");
        Assert.True(code == 0, stderr);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        // Back: both instances write to a master again (an INCR through their own connection), and /ready says healthy.
        var back = await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(10), async () =>
        {
            foreach (var app in new[] { a, b })
            {
                if (app.Services.GetRequiredService<RedisConnection>().Database is not { } db)
                {
                    return false;
                }
                try
                {
                    await db.StringIncrementAsync("failover-probe");
                }
                catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
                {
                    // Not yet: the write went to the dead master (a timeout is not a RedisException).
                    return false;
                }
                if ((await app.ReadyAsync()).GetProperty("checks").GetProperty("cache").GetProperty("status").GetString() != "healthy")
                {
                    return false;
                }
            }
            return true;
        }, intervalMs: 100);
        output.WriteLine($"killed master {killed.Trim()}; Tally writes to Redis again after {back?.TotalSeconds:0.00} s");
        Assert.True(back is not null, $"Tally did not write to a Redis master within 10 s of killing the master on port {killed.Trim()}");
        // The sentinels learn of the promotion from each other (hello messages every 2 s), so the one
        // asked first may still name the old master for a moment after Tally has moved on.
        var master = "";
        var promoted = await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(10), async () =>
        {
            master = (await services.RunAsync("redis-master")).Stdout.Trim();
            return master.Length > 0 && master != killed.Trim();
        }, intervalMs: 100);
        Assert.True(promoted is not null, $"the sentinels still name the killed master {killed.Trim()} (now: '{master}')");
        output.WriteLine($"the first sentinel names the new master {master} {watch.Elapsed.TotalSeconds:0.00} s after the kill");

        // Reads (fresh across instances, and from the cache again), logins and transfers.
        var hitsBefore = a.Services.GetRequiredService<CacheMetrics>().Hits;
        await b.TransferAsync(alice, bob, 50);
        Assert.Equal(99_850, await a.BalanceAsync(alice));
        Assert.Equal(99_850, await a.BalanceAsync(alice));
        Assert.Equal(99_850, await a.MeBalanceAsync(alice));
        Assert.Equal(99_850, await b.BalanceAsync(alice));
        Assert.True(a.Services.GetRequiredService<CacheMetrics>().Hits > hitsBefore, "no read was served from the cache after the failover");
        var session = await b.LoginAsync(alice.Phone, alice.Password);
        using var onA = a.CreateClient(session);
        (await onA.GetAsync("/api/account/me")).EnsureSuccessStatusCode();

        // Pub/sub works again: a logout on A reaches B within a second.
        using var onB = b.CreateClient(session);
        (await onB.GetAsync("/api/account/me")).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.NoContent, (await onA.PostAsync("/api/auth/logout", null)).StatusCode);
        Assert.NotNull(await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(1), async () =>
        {
            using var response = await onB.GetAsync("/api/account/me");
            return response.StatusCode == HttpStatusCode.Unauthorized;
        }, intervalMs: 10));
        await a.AssertAuditOkAsync();
    }
}

/// <summary>Every Redis process stopped, on a set of services of its own.</summary>
public sealed class RedisDownTests(RedisDownServices services, ITestOutputHelper output) : IClassFixture<RedisDownServices>
{
    [Fact]
    public async Task WithRedisStopped_ReadsComeFromTheDatabase_AndReadyIsDegraded()
    {
        var (a, b, alice, bob) = await services.PairWithUsersAsync("down");
        Assert.Equal(100_000, await a.BalanceAsync(alice));
        Assert.Equal(100_000, await a.BalanceAsync(alice));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        services.StopRedis();
        output.WriteLine($"Redis stopped in {watch.Elapsed.TotalSeconds:0.00} s");

        watch.Restart();
        var degraded = await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(10), async () =>
        {
            var ready = await a.ReadyAsync();
            return ready.GetProperty("status").GetString() == "degraded"
                && ready.GetProperty("checks").GetProperty("cache").GetProperty("status").GetString() == "degraded";
        }, intervalMs: 100);
        output.WriteLine($"/ready degraded after {degraded?.TotalSeconds:0.00} s");
        Assert.True(degraded is not null, (await a.ReadyAsync()).ToString());
        using (var http = a.CreateClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/ready")).StatusCode);
        }

        // Writes and reads still work, and reads are fresh across instances (from the database).
        watch.Restart();
        var bypassed = a.Services.GetRequiredService<CacheMetrics>().Bypasses;
        await b.TransferAsync(alice, bob, 700);
        Assert.Equal(99_300, await a.BalanceAsync(alice));
        Assert.Equal(99_300, await a.MeBalanceAsync(alice));
        Assert.Equal(100_700, await a.BalanceAsync(bob));
        Assert.True(a.Services.GetRequiredService<CacheMetrics>().Bypasses > bypassed);
        var session = await b.LoginAsync(alice.Phone, alice.Password);
        using var onA = a.CreateClient(session);
        (await onA.GetAsync("/api/account/me")).EnsureSuccessStatusCode();
        output.WriteLine($"transfer, reads and login without Redis in {watch.Elapsed.TotalMilliseconds:0} ms");

        // Revocation still reaches the other instance (through the database) within about a second.
        Assert.Equal(HttpStatusCode.NoContent, (await onA.PostAsync("/api/auth/logout", null)).StatusCode);
        using var onB = b.CreateClient(session);
        var revoked = await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(3), async () =>
        {
            using var response = await onB.GetAsync("/api/account/me");
            return response.StatusCode == HttpStatusCode.Unauthorized;
        }, intervalMs: 20);
        output.WriteLine($"revocation reached B after {revoked?.TotalSeconds:0.00} s");
        Assert.True(revoked is not null, "B accepted a session revoked on A while Redis was down");

        // A new instance starts while Redis is down (AbortOnConnectFail=false), serves, and says degraded.
        var (c, _) = await services.PairAsync("downstart", waitForRedis: false);
        var carol = await c.RegisterAndLoginAsync();
        Assert.Equal(100_000, await c.BalanceAsync(carol));
        Assert.Equal("degraded", (await c.ReadyAsync()).GetProperty("checks").GetProperty("cache").GetProperty("status").GetString());
        await a.AssertAuditOkAsync();
    }
}
