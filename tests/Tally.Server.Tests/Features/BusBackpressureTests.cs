using Tally.Server.Bus;

namespace Tally.Server.Tests.Features;

/// <summary>
/// The bus sheds load through HTTP: a full queue answers 503 QUEUE_FULL with Retry-After at once, and a command
/// still queued at its deadline answers 504 and is never applied. A gate in front of the real transfer handler
/// holds the only worker busy, so the queue fills deterministically, without racing a burst against the worker.
/// </summary>
public sealed class BusBackpressureTests
{
    [Fact]
    public async Task Transfer_WhenTheQueueIsFull_IsRefusedAtOnceWith503AndRetryAfter()
    {
        using var app = new GatedTransferApp(("Bus:Workers", "1"), ("Bus:Capacity", "1"), ("Bus:Deadline", "00:00:30"));
        using var pair = await app.RegisterPairAsync();
        var (_, bob, client) = pair;
        var bus = app.Services.GetRequiredService<InProcessCommandBus>();

        var running = await app.HoldATransferAsync(client, bob.AccountNumber);
        var queued = client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 200 });
        Assert.NotNull(await TallyTestKit.PollAsync(() => Task.FromResult<object?>(bus.QueueDepth == 1 ? bus : null), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10)));

        var refused = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 300 });

        await refused.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, "QUEUE_FULL");
        var retryAfter = refused.Headers.RetryAfter;
        Assert.NotNull(retryAfter);
        Assert.True(retryAfter.Delta > TimeSpan.Zero, $"Retry-After should be a positive delay, got {retryAfter}");
        app.Open();
        await (await running).AssertJsonAsync();
        await (await queued).AssertJsonAsync();
        Assert.Equal((99700L, 99700L), await client.GetBalanceAsync());
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task Transfer_StillQueuedAtItsDeadline_Gets504AndIsNeverApplied()
    {
        using var app = new GatedTransferApp(("Bus:Workers", "1"), ("Bus:Capacity", "8"), ("Bus:Deadline", "00:00:01"));
        using var pair = await app.RegisterPairAsync();
        var (_, bob, client) = pair;

        var running = await app.HoldATransferAsync(client, bob.AccountNumber);

        var late = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 200 });

        await late.AssertProblemAsync(HttpStatusCode.GatewayTimeout, "DEADLINE_EXCEEDED");
        app.Open();
        // The first command started before its deadline, but its write reached the database batch after it: the
        // batch dropped it unstarted, so its caller too gets 504, and it is not applied either.
        await (await running).AssertProblemAsync(HttpStatusCode.GatewayTimeout, "DEADLINE_EXCEEDED");
        // One worker takes commands in order: once this later transfer is done, the expired ones were dropped.
        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 300 });
        Assert.Equal((99700L, 99700L), await client.GetBalanceAsync());
        Assert.Equal(100300, (await app.GetBalanceAsync(bob)).Balance);
        await app.AssertAuditOkAsync();
    }
}
