using System.Security.Cryptography;
using Tally.Server.Features.Transfers;

namespace Tally.RabbitMq.Tests;

/// <summary>The RabbitMQ transport of the command bus, end to end against a real private broker.</summary>
[Collection(ServicesCollection.Name)]
public sealed class RabbitMqTransportTests(PrivateServices services)
{
    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task Transfers_run_through_the_broker_end_to_end(string provider)
    {
        var (app, alice, bob) = await services.StartWithTwoUsersAsync(new RabbitTallyFactory(services, provider: provider));
        using var client = app.CreateClient(alice);

        var instant = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 1500, note = "lunch" })).AssertJsonAsync();
        Assert.Equal("SUCCESS", instant.GetProperty("status").GetString());

        // A hold, then its confirmation: both are commands through the queue.
        var hold = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 700, instant = false })).AssertJsonAsync();
        Assert.Equal("PENDING", hold.GetProperty("status").GetString());
        var confirmed = await (await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = hold.GetProperty("transfer_id").GetInt64() })).AssertJsonAsync();
        Assert.Equal("SUCCESS", confirmed.GetProperty("status").GetString());

        // A broken rule crosses the queue as a value and comes back as its problem.
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 50_000_000 })).AssertProblemAsync(HttpStatusCode.BadRequest, "INSUFFICIENT_FUNDS");

        // An idempotent retry replays the first result.
        var key = "rmq-" + Guid.NewGuid().ToString("N")[..8];
        var first = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 300, client_ref = key })).AssertJsonAsync();
        var again = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 300, client_ref = key });
        Assert.Equal(first.GetProperty("transfer_id").GetInt64(), (await again.AssertJsonAsync()).GetProperty("transfer_id").GetInt64());

        Assert.Equal(100_000 - 1500 - 700 - 300, await app.BalanceAsync(alice));
        Assert.Equal(100_000 + 1500 + 700 + 300, await app.BalanceAsync(bob));

        // 400 transfers from 16 clients at once, opposing pairs included.
        var users = new List<TallyUser>();
        for (var i = 0; i < 6; i++)
        {
            users.Add(await app.RegisterAndLoginAsync());
        }
        var failures = 0;
        await Parallel.ForAsync(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var from = users[i % users.Count];
            var to = users[(i * 7 + 1) % users.Count];
            if (from == to)
            {
                to = users[(i + 1) % users.Count];
            }
            using var c = app.CreateClient(from);
            var response = await c.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = to.AccountNumber, amount = 1 + (i % 50) });
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Interlocked.Increment(ref failures);
            }
        });
        Assert.Equal(0, failures);
        long total = 0;
        foreach (var user in users)
        {
            total += await app.BalanceAsync(user);
        }
        Assert.Equal(users.Count * 100_000L, total);
        await app.AssertAuditOkAsync();

        using var ops = app.CreateClient();
        var ready = await (await ops.GetAsync("/ready")).AssertJsonAsync();
        Assert.Contains("rabbitmq", ready.GetProperty("checks").GetProperty("bus").GetProperty("description").GetString(), StringComparison.Ordinal);
        var metrics = await ops.GetStringAsync("/metrics");
        Assert.Contains("transport=\"rabbitmq\"", metrics, StringComparison.Ordinal);
        Assert.Contains($"queue=\"{app.QueuePrefix}.commands.transfer\"", metrics, StringComparison.Ordinal);
        Assert.Contains("tally_bus_queue_wait_seconds_count", metrics, StringComparison.Ordinal);
        // Every transfer above came back over the bus: the api side counts each round trip.
        var roundTrips = metrics.Split('\n').Single(l => l.StartsWith("tally_bus_round_trip_seconds_count{", StringComparison.Ordinal) && l.Contains("command=\"MakeTransfer\"", StringComparison.Ordinal));
        Assert.True(long.Parse(roundTrips[(roundTrips.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture) >= 400, roundTrips);
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task A_redelivered_message_applies_once_and_replies_with_the_same_outcome(string provider)
    {
        var (app, alice, bob) = await services.StartWithTwoUsersAsync(new RabbitTallyFactory(services, provider: provider));
        await using var broker = await RawBroker.ConnectAsync(services.RabbitMq);

        // No client_ref: only the inbox stands between a redelivery and a second debit.
        var command = new MakeTransfer(alice.Id, bob.AccountNumber, null, null, 1234, "twice?", null, Instant: true);
        var id = Guid.NewGuid();
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        await broker.PublishAsync(app.QueuePrefix, command, id, deadline);
        var firstReply = await broker.RepliesAsync(id, 1, TimeSpan.FromSeconds(10));
        Assert.Single(firstReply);
        await broker.PublishAsync(app.QueuePrefix, command, id, deadline);
        await broker.PublishAsync(app.QueuePrefix, command, id, deadline);
        var replies = await broker.RepliesAsync(id, 3, TimeSpan.FromSeconds(10));

        Assert.Equal(3, replies.Count);
        Assert.All(replies, r => Assert.Null(r.Error));
        Assert.All(replies, r => Assert.Equal(replies[0].Body, r.Body));
        using var outcome = JsonDocument.Parse(replies[0].Body);
        Assert.Equal("SUCCESS", outcome.RootElement.GetProperty("Value").GetProperty("Transfer").GetProperty("Status").GetString());
        Assert.Equal(100_000 - 1234, await app.BalanceAsync(alice));
        Assert.Equal(100_000 + 1234, await app.BalanceAsync(bob));

        // The same id sent at once, concurrently: still one effect.
        var burstId = Guid.NewGuid();
        var burst = command with { Amount = 111 };
        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => broker.PublishAsync(app.QueuePrefix, burst, burstId, deadline)));
        var burstReplies = await broker.RepliesAsync(burstId, 5, TimeSpan.FromSeconds(10));
        Assert.Equal(5, burstReplies.Count);
        Assert.All(burstReplies, r => Assert.Equal(burstReplies[0].Body, r.Body));
        Assert.Equal(100_000 - 1234 - 111, await app.BalanceAsync(alice));

        // A failed outcome is recorded too: a redelivery answers the same, even once funds would allow it.
        var tooMuchId = Guid.NewGuid();
        var tooMuch = command with { Amount = 150_000 };
        await broker.PublishAsync(app.QueuePrefix, tooMuch, tooMuchId, deadline);
        var refused = await broker.RepliesAsync(tooMuchId, 1, TimeSpan.FromSeconds(10));
        Assert.Contains("INSUFFICIENT_FUNDS", refused[0].Body, StringComparison.Ordinal);
        using (var funding = app.CreateClient(bob))
        {
            await (await funding.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = alice.AccountNumber, amount = 90_000 })).AssertJsonAsync();
        }
        await broker.PublishAsync(app.QueuePrefix, tooMuch, tooMuchId, deadline);
        var refusedAgain = await broker.RepliesAsync(tooMuchId, 2, TimeSpan.FromSeconds(10));
        Assert.Equal(2, refusedAgain.Count);
        Assert.Equal(refusedAgain[0].Body, refusedAgain[1].Body);
        Assert.Equal(100_000 - 1234 - 111 + 90_000, await app.BalanceAsync(alice));
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task An_expired_message_is_dropped_unprocessed()
    {
        var (app, alice, bob) = await services.StartWithTwoUsersAsync(new RabbitTallyFactory(services));
        await using var broker = await RawBroker.ConnectAsync(services.RabbitMq);

        var id = Guid.NewGuid();
        await broker.PublishAsync(app.QueuePrefix, new MakeTransfer(alice.Id, bob.AccountNumber, null, null, 999, null, null, true), id, DateTimeOffset.UtcNow.AddSeconds(-1));
        var replies = await broker.RepliesAsync(id, 1, TimeSpan.FromSeconds(2));
        Assert.Empty(replies);
        Assert.Equal(0u, await broker.MessageCountAsync(app.QueuePrefix + ".commands.transfer"));
        Assert.Equal(100_000, await app.BalanceAsync(alice));
        Assert.Equal(100_000, await app.BalanceAsync(bob));
    }

    [Fact]
    public async Task A_write_no_worker_takes_by_its_deadline_gets_504_and_is_never_applied()
    {
        var (all, alice, bob, api) = await UnconsumedApiAsync(new Dictionary<string, string?> { ["Bus:Deadline"] = "00:00:01", ["Bus:RabbitMq:ReplyGrace"] = "00:00:00.200" });
        var prefix = api.QueuePrefix;
        using var client = api.CreateClient(alice);
        var watch = Stopwatch.StartNew();
        var response = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 4321 });
        await response.AssertProblemAsync(HttpStatusCode.GatewayTimeout, "DEADLINE_EXCEEDED");
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));

        // A worker that comes later finds the message expired and never applies it.
        var worker = services.Own(new RabbitTallyFactory(services, role: "worker", provider: "Postgres", queuePrefix: prefix, signingKey: api.SigningKey));
        await worker.WaitReadyAsync();
        await using var broker = await RawBroker.ConnectAsync(services.RabbitMq);
        var until = DateTime.UtcNow.AddSeconds(10);
        while (await broker.MessageCountAsync(prefix + ".commands.transfer") > 0 && DateTime.UtcNow < until)
        {
            await Task.Delay(100);
        }
        Assert.Equal(0u, await broker.MessageCountAsync(prefix + ".commands.transfer"));
        Assert.Equal(100_000, await all.BalanceAsync(alice));
        Assert.Equal(100_000, await all.BalanceAsync(bob));

        // The worker serves only its operations endpoints.
        using var workerClient = worker.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await workerClient.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await workerClient.GetAsync("/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await workerClient.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await workerClient.GetAsync("/api/account/me")).StatusCode);
    }

    [Fact]
    public async Task A_full_bounded_queue_refuses_at_once_with_503_and_Retry_After()
    {
        var (all, alice, bob, api) = await UnconsumedApiAsync(new Dictionary<string, string?> { ["Bus:Capacity"] = "3", ["Bus:Deadline"] = "00:00:03", ["Bus:RabbitMq:ReplyGrace"] = "00:00:00.200" });
        var prefix = api.QueuePrefix;
        await using var broker = await RawBroker.ConnectAsync(services.RabbitMq);
        using var client = api.CreateClient(alice);

        // Fill the queue: nobody consumes it.
        var waiting = Enumerable.Range(0, 3)
            .Select(i => client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 10 + i }))
            .ToList();
        var until = DateTime.UtcNow.AddSeconds(5);
        while (await broker.MessageCountAsync(prefix + ".commands.transfer") < 3 && DateTime.UtcNow < until)
        {
            await Task.Delay(20);
        }
        Assert.Equal(3u, await broker.MessageCountAsync(prefix + ".commands.transfer"));

        var watch = Stopwatch.StartNew();
        var refused = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 99 });
        watch.Stop();
        await refused.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, "QUEUE_FULL");
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"The refusal took {watch.Elapsed.TotalMilliseconds} ms");

        // The accepted ones time out unprocessed; nothing moved.
        foreach (var response in await Task.WhenAll(waiting))
        {
            await response.AssertProblemAsync(HttpStatusCode.GatewayTimeout, "DEADLINE_EXCEEDED");
        }
        Assert.Equal(100_000, await all.BalanceAsync(alice));
    }

    [Fact]
    public async Task A_message_that_cannot_be_read_goes_to_the_dead_letter_queue()
    {
        var app = services.Own(new RabbitTallyFactory(services));
        await app.WaitReadyAsync();
        await using var broker = await RawBroker.ConnectAsync(services.RabbitMq);
        var dead = app.QueuePrefix + ".commands.dead";
        var before = await broker.MessageCountAsync(dead);

        var command = new MakeTransfer(1, "000000000001", null, null, 1, null, null, true);
        await broker.PublishAsync(app.QueuePrefix, command, Guid.NewGuid(), DateTimeOffset.UtcNow.AddSeconds(30), body: "{not json"u8.ToArray());
        await broker.PublishAsync(app.QueuePrefix, command, Guid.NewGuid(), DateTimeOffset.UtcNow.AddSeconds(30), typeName: "System.Diagnostics.Process");
        var until = DateTime.UtcNow.AddSeconds(10);
        while (await broker.MessageCountAsync(dead) < before + 2 && DateTime.UtcNow < until)
        {
            await Task.Delay(50);
        }
        Assert.Equal(before + 2, await broker.MessageCountAsync(dead));
    }

    /// <summary>
    /// An instance of all roles on PostgreSQL with alice and bob, and an api instance (same database and signing key)
    /// on queues of its own that no worker consumes (yet).
    /// </summary>
    private async Task<(RabbitTallyFactory All, TallyUser Alice, TallyUser Bob, RabbitTallyFactory Api)> UnconsumedApiAsync(Dictionary<string, string?> overrides)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var (all, alice, bob) = await services.StartWithTwoUsersAsync(new RabbitTallyFactory(services, provider: "Postgres", signingKey: key));
        var api = services.Own(new RabbitTallyFactory(services, role: "api", provider: "Postgres", queuePrefix: "t" + Guid.NewGuid().ToString("N")[..10], signingKey: key, overrides: overrides));
        await api.WaitReadyAsync();
        return (all, alice, bob, api);
    }
}
