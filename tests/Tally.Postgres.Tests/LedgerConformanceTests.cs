using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tally.Domain;
using Tally.Postgres.Tests.Infrastructure;
using Tally.Server.Storage;
using Tally.Testing;

namespace Tally.Postgres.Tests;

/// <summary>Tally on the embedded SQLite store, for the cases that must behave as they do on PostgreSQL.</summary>
public sealed class SqliteLedgerHost() : TallyTestHost("tally-conformance", "conformance-admin", [new("Storage:Provider", "Sqlite")], null);

/// <summary>
/// Every rule of the ledger, written once and run against both stores: the embedded SQLite store (its rules in C#) and
/// the PostgreSQL store (its rules in PL/pgSQL functions that receive their texts from C#). Each case asserts the same
/// status, error_code and detail sentence, the same balances, and the same notification texts on both.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class LedgerConformanceTests(PostgresServer server, SqliteLedgerHost sqlite) : IClassFixture<SqliteLedgerHost>, IDisposable
{
    private readonly List<HttpClient> _clients = [];

    public static TheoryData<string> Providers => new() { "Sqlite", "Postgres" };

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }

    private async Task<TallyTestHost> HostAsync(string provider) =>
        provider == "Postgres" ? await server.AppAsync("conformance") : sqlite;

    private async Task<(TallyTestHost App, TallyUser Alice, TallyUser Bob, HttpClient Client)> PairAsync(string provider)
    {
        var app = await HostAsync(provider);
        var alice = await app.RegisterAndLoginAsync("Alice " + TallyTestKit.NewPhone()[^4..]);
        var bob = await app.RegisterAndLoginAsync("Bob " + TallyTestKit.NewPhone()[^4..]);
        var client = app.CreateClient(alice);
        _clients.Add(client);
        return (app, alice, bob, client);
    }

    private static async Task<(long Id, JsonElement Hold)> PlaceHoldAsync(HttpClient client, TallyUser to, long amount)
    {
        var hold = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = to.AccountNumber, amount, instant = false })).AssertJsonAsync();
        return (hold.GetProperty("transfer_id").GetInt64(), hold);
    }

    private static ILedgerStore StoreOf(TallyTestHost app) => app.Services.GetRequiredService<ILedgerStore>();

    private static Task<HttpResponseMessage> PostJsonAsync(HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task AssertRuleAsync(HttpResponseMessage response, DomainError rule)
    {
        var problem = await response.AssertProblemAsync((HttpStatusCode)rule.Status, rule.Code);
        Assert.Equal(rule.Detail, problem.GetProperty("detail").GetString());
    }

    private static async Task<JsonElement[]> NotificationsAsync(TallyTestHost app, TallyUser user)
    {
        using var client = app.CreateClient(user);
        return [.. (await (await client.GetAsync("/api/notifications/notifications")).AssertJsonAsync()).EnumerateArray()];
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Register_FundsTheAccountFromTheBank_AndRefusesATakenPhone(string provider)
    {
        var app = await HostAsync(provider);
        var alice = await app.RegisterAndLoginAsync();
        using var client = app.CreateClient(alice);

        Assert.Equal((Money.OpeningBalance, Money.OpeningBalance), await app.GetBalanceAsync(alice));
        var history = await (await client.GetAsync("/api/account/transactions")).AssertJsonAsync();
        var opening = Assert.Single(history.GetProperty("items").EnumerateArray());
        Assert.Equal("in", opening.GetProperty("direction").GetString());
        Assert.Equal(AccountNumber.Bank, opening.GetProperty("counterparty_account_number").GetString());
        Assert.Equal("Tally Bank", opening.GetProperty("counterparty_username").GetString());
        Assert.Equal("Opening balance", opening.GetProperty("note").GetString());
        Assert.Equal(Money.OpeningBalance, opening.GetProperty("amount").GetInt64());
        Assert.Equal("SUCCESS", opening.GetProperty("status").GetString());

        using var anonymous = app.CreateClient();
        var again = await anonymous.PostAsJsonAsync("/api/auth/register", new { phone = alice.Phone, username = "Someone Else", password = TallyTestKit.Password });
        await AssertRuleAsync(again, LedgerErrors.PhoneExists);
        await app.AssertAuditOkAsync();
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task InstantTransfer_MovesTheMoney_AndWritesBothNotifications(string provider)
    {
        var (app, alice, bob, client) = await PairAsync(provider);

        var transfer = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 5000, note = "lunch" })).AssertJsonAsync();

        Assert.Equal("SUCCESS", transfer.GetProperty("status").GetString());
        Assert.Equal(alice.Username, transfer.GetProperty("from").GetString());
        Assert.Equal(bob.Username, transfer.GetProperty("to").GetString());
        Assert.Equal(JsonValueKind.Null, transfer.GetProperty("hold_until").ValueKind);
        Assert.Equal((95_000, 95_000), await app.GetBalanceAsync(alice));
        Assert.Equal((105_000, 105_000), await app.GetBalanceAsync(bob));

        var id = transfer.GetProperty("transfer_id").GetInt64();
        var received = (await NotificationsAsync(app, bob)).First();
        Assert.Equal("transfer_received", received.GetProperty("type").GetString());
        Assert.Equal($"You received 5000 from {alice.Username}", received.GetProperty("message").GetString());
        Assert.Equal(id, received.GetProperty("transfer_id").GetInt64());
        Assert.Equal(5000, received.GetProperty("amount").GetInt64());
        var sent = (await NotificationsAsync(app, alice)).First();
        Assert.Equal("transfer_sent", sent.GetProperty("type").GetString());
        Assert.Equal($"You sent 5000 to {bob.Username}", sent.GetProperty("message").GetString());
        Assert.Equal(id, sent.GetProperty("transfer_id").GetInt64());
        await app.AssertAuditOkAsync();
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task NotificationTexts_KeepNamesWithFormatCharactersAsTheyAre(string provider)
    {
        var app = await HostAsync(provider);
        var alice = await app.RegisterAndLoginAsync("Zoë 100% {1} %s");
        var bob = await app.RegisterAndLoginAsync("Bo {0} %1$s");
        using var client = app.CreateClient(alice);

        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 42 })).AssertJsonAsync();
        var hold = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 43, instant = false })).AssertJsonAsync();
        await (await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = hold.GetProperty("transfer_id").GetInt64() })).AssertJsonAsync();

        var received = (await NotificationsAsync(app, bob)).Select(n => n.GetProperty("message").GetString()!).ToArray();
        Assert.Equal(["You received 43 from Zoë 100% {1} %s", "You received 42 from Zoë 100% {1} %s"], received);
        var sent = (await NotificationsAsync(app, alice)).Select(n => n.GetProperty("message").GetString()!).ToArray();
        Assert.Equal(["You sent 43 to Bo {0} %1$s", "You sent 42 to Bo {0} %1$s"], sent);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Transfer_BeyondTheAvailableBalance_IsInsufficientFunds_AndMovesNothing(string provider)
    {
        var (app, alice, bob, client) = await PairAsync(provider);

        await AssertRuleAsync(await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 100_001 }), LedgerErrors.InsufficientFunds);
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 60_000, instant = false })).AssertJsonAsync();
        await AssertRuleAsync(await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 40_001 }), LedgerErrors.InsufficientFunds);
        await AssertRuleAsync(
            await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 40_001, instant = false }), LedgerErrors.InsufficientFunds);
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 40_000 })).AssertJsonAsync();

        Assert.Equal((60_000, 0), await app.GetBalanceAsync(alice));
        Assert.Equal((140_000, 140_000), await app.GetBalanceAsync(bob));
        await app.AssertAuditOkAsync();
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Transfer_ToSelf_IsRefusedWhicheverWayTheRecipientIsNamed(string provider)
    {
        var (app, alice, _, client) = await PairAsync(provider);

        foreach (var body in new object[]
        {
            new { to_account_number = alice.AccountNumber, amount = 1 },
            new { to_username = alice.Username, amount = 1 },
            new { to_phone = alice.Phone, amount = 1 },
        })
        {
            var problem = await (await client.PostAsJsonAsync("/api/transfer/transfer", body)).AssertProblemAsync(HttpStatusCode.BadRequest, ErrorCodes.SelfTransfer);
            Assert.Equal("You cannot send money to yourself.", problem.GetProperty("detail").GetString());
        }
        Assert.Equal((100_000, 100_000), await app.GetBalanceAsync(alice));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Transfer_ToNobody_IsNotFoundOrRefused(string provider)
    {
        var (app, alice, _, client) = await PairAsync(provider);

        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = "999999999999", amount = 1 })).AssertProblemAsync(HttpStatusCode.NotFound, ErrorCodes.AccountNotFound);
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = AccountNumber.Bank, amount = 1 })).AssertProblemAsync(HttpStatusCode.NotFound, ErrorCodes.AccountNotFound);
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_username = "nobody " + Guid.NewGuid().ToString("N")[..8], amount = 1 })).AssertProblemAsync(HttpStatusCode.NotFound, ErrorCodes.AccountNotFound);
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_phone = "19999999999", amount = 1 })).AssertProblemAsync(HttpStatusCode.NotFound, ErrorCodes.AccountNotFound);
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = "12345", amount = 1 })).AssertProblemAsync(HttpStatusCode.BadRequest, ErrorCodes.InvalidAccount);
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { amount = 1 })).AssertProblemAsync(HttpStatusCode.BadRequest, ErrorCodes.MissingRecipient);
        Assert.Equal((100_000, 100_000), await app.GetBalanceAsync(alice));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Amount_OutsideOneToTheMaximum_IsInvalid_AndTheBoundsAreInclusive(string provider)
    {
        var (app, alice, bob, client) = await PairAsync(provider);

        foreach (var amount in new[] { "0", "-1", "1.5", "\"100\"", "1000000000001", "9223372036854775808", "1e30", "null" })
        {
            var response = await PostJsonAsync(client, "/api/transfer/transfer", $$"""{"to_account_number":"{{bob.AccountNumber}}","amount":{{amount}}}""");
            await response.AssertProblemAsync(HttpStatusCode.BadRequest, ErrorCodes.InvalidAmount);
        }
        // The maximum itself is a valid amount: it fails only for want of funds.
        await AssertRuleAsync(
            await PostJsonAsync(client, "/api/transfer/transfer", $$"""{"to_account_number":"{{bob.AccountNumber}}","amount":{{Money.DefaultMaxAmount}}}"""), LedgerErrors.InsufficientFunds);
        await (await PostJsonAsync(client, "/api/transfer/transfer", $$"""{"to_account_number":"{{bob.AccountNumber}}","amount":1}""")).AssertJsonAsync();
        Assert.Equal((99_999, 99_999), await app.GetBalanceAsync(alice));
        await app.AssertAuditOkAsync();
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Hold_PlacedThenConfirmed_MovesTheMoneyOnce_AndNotifiesOnConfirm(string provider)
    {
        var (app, alice, bob, client) = await PairAsync(provider);

        var hold = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 3000, instant = false })).AssertJsonAsync();
        Assert.Equal("PENDING", hold.GetProperty("status").GetString());
        Assert.NotEqual(JsonValueKind.Null, hold.GetProperty("hold_until").ValueKind);
        Assert.Equal((100_000, 97_000), await app.GetBalanceAsync(alice));
        Assert.Equal((100_000, 100_000), await app.GetBalanceAsync(bob));
        Assert.DoesNotContain(await NotificationsAsync(app, bob), n => n.GetProperty("type").GetString() == NotificationText.Received);

        var id = hold.GetProperty("transfer_id").GetInt64();
        var confirmed = await (await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = id })).AssertJsonAsync();
        Assert.Equal("SUCCESS", confirmed.GetProperty("status").GetString());
        Assert.Equal(hold.GetProperty("created_at").GetString(), confirmed.GetProperty("created_at").GetString());
        Assert.Equal((97_000, 97_000), await app.GetBalanceAsync(alice));
        Assert.Equal((103_000, 103_000), await app.GetBalanceAsync(bob));
        Assert.Equal($"You received 3000 from {alice.Username}", Assert.Single(await NotificationsAsync(app, bob)).GetProperty("message").GetString());
        Assert.Equal($"You sent 3000 to {bob.Username}", Assert.Single(await NotificationsAsync(app, alice)).GetProperty("message").GetString());

        await AssertRuleAsync(await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = id }), LedgerErrors.InvalidState(TransferStatus.Success, confirm: true));
        await AssertRuleAsync(await client.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = id }), LedgerErrors.InvalidState(TransferStatus.Success, confirm: false));
        Assert.Equal((97_000, 97_000), await app.GetBalanceAsync(alice));
        await app.AssertAuditOkAsync();
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Hold_Cancelled_ReleasesTheFunds_AndOnlyTheSenderMayResolveIt(string provider)
    {
        var (app, alice, bob, client) = await PairAsync(provider);
        var carol = await app.RegisterAndLoginAsync();
        var hold = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 2500, instant = false, client_ref = "conf-hold" })).AssertJsonAsync();
        var id = hold.GetProperty("transfer_id").GetInt64();

        using (var bobClient = app.CreateClient(bob))
        {
            await AssertRuleAsync(await bobClient.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = id }), LedgerErrors.NotOwner);
        }
        using (var carolClient = app.CreateClient(carol))
        {
            await AssertRuleAsync(await carolClient.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = id }), LedgerErrors.TransferNotFound);
        }
        await AssertRuleAsync(await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = 987_654_321 }), LedgerErrors.TransferNotFound);
        await AssertRuleAsync(await client.PostAsJsonAsync("/api/transfer/confirm", new { client_ref = "no-such-ref" }), LedgerErrors.TransferNotFound);

        var cancelled = await (await client.PostAsJsonAsync("/api/transfer/cancel", new { client_ref = "conf-hold" })).AssertJsonAsync();
        Assert.Equal("CANCELLED", cancelled.GetProperty("status").GetString());
        Assert.Equal(id, cancelled.GetProperty("transfer_id").GetInt64());
        Assert.Equal((100_000, 100_000), await app.GetBalanceAsync(alice));
        Assert.Equal((100_000, 100_000), await app.GetBalanceAsync(bob));
        Assert.Empty(await NotificationsAsync(app, bob));
        await AssertRuleAsync(await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = id }), LedgerErrors.InvalidState(TransferStatus.Cancelled, confirm: true));
        await app.AssertAuditOkAsync();
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Hold_PastItsTime_CannotBeResolved_AndExpiresOnce(string provider)
    {
        var (app, alice, bob, client) = await PairAsync(provider);
        var store = StoreOf(app);
        var (id, hold) = await PlaceHoldAsync(client, bob, 1234);
        var late = DateTimeOffset.Parse(hold.GetProperty("hold_until").GetString()!, System.Globalization.CultureInfo.InvariantCulture).AddSeconds(1);

        // Past hold_until but before the sweep: the hold reads as expired, and nothing moves.
        var confirm = await store.ResolveHoldAsync(alice.Id, id, null, confirm: true, late);
        Assert.Equal(LedgerErrors.InvalidState(TransferStatus.Pending, confirm: true), confirm.Error);
        Assert.Equal("The transfer is expired and can no longer be confirmed.", confirm.Error!.Detail);
        Assert.Equal((100_000, 98_766), await app.GetBalanceAsync(alice));

        Assert.True(await store.ExpireHoldsAsync(late, 500) >= 1);
        Assert.Equal(0, await store.ExpireHoldsAsync(late, 500));
        Assert.Equal((100_000, 100_000), await app.GetBalanceAsync(alice));
        Assert.Equal((100_000, 100_000), await app.GetBalanceAsync(bob));
        var seen = await (await client.GetAsync($"/api/transfer/{id}")).AssertJsonAsync();
        Assert.Equal("EXPIRED", seen.GetProperty("status").GetString());
        await AssertRuleAsync(await client.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = id }), LedgerErrors.InvalidState(TransferStatus.Expired, confirm: false));
        Assert.Empty(await NotificationsAsync(app, bob));
        await app.AssertAuditOkAsync();
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Resolve_ReturnsTheNotificationsItWrote(string provider)
    {
        var (app, alice, bob, client) = await PairAsync(provider);
        var (id, _) = await PlaceHoldAsync(client, bob, 777);

        var outcome = await StoreOf(app).ResolveHoldAsync(alice.Id, id, null, confirm: true, DateTimeOffset.UtcNow);

        Assert.True(outcome.IsSuccess, outcome.Error?.Detail);
        var pushes = outcome.Value!.Notifications;
        Assert.Equal([bob.Id, alice.Id], pushes.Select(p => p.UserId));
        var stored = (await NotificationsAsync(app, bob)).Single();
        Assert.Equal(stored.GetProperty("id").GetInt64(), pushes[0].Notification.Id);
        Assert.Equal(stored.GetProperty("message").GetString(), pushes[0].Notification.Message);
        Assert.Equal(NotificationText.ReceivedMessage(777, alice.Username), pushes[0].Notification.Message);
        Assert.Equal(stored.GetProperty("created_at").GetString(), pushes[0].Notification.CreatedAt);
        var storedSent = (await NotificationsAsync(app, alice)).Single();
        Assert.Equal(storedSent.GetProperty("id").GetInt64(), pushes[1].Notification.Id);
        Assert.Equal(storedSent.GetProperty("message").GetString(), pushes[1].Notification.Message);
        Assert.Equal(NotificationText.SentMessage(777, bob.Username), pushes[1].Notification.Message);
        await app.AssertAuditOkAsync();
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Replay_WithTheSameBody_ReturnsTheFirstResult_AndAnotherBodyIsAConflict(string provider)
    {
        var (app, alice, bob, client) = await PairAsync(provider);

        using var keyed = app.CreateClient(alice);
        keyed.DefaultRequestHeaders.Add("Idempotency-Key", "conformance-key");
        Task<HttpResponseMessage> SendAsync(long amount, bool instant = true) =>
            keyed.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount, instant });

        var first = await SendAsync(700);
        var firstBody = await first.AssertJsonAsync();
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        var second = await SendAsync(700);
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(firstBody.ToString(), (await second.AssertJsonAsync()).ToString());
        await AssertRuleAsync(await SendAsync(701), LedgerErrors.DuplicateClientRef);
        await AssertRuleAsync(await SendAsync(700, instant: false), LedgerErrors.DuplicateClientRef);

        // The same key in the body (client_ref), from another sender, is another transfer.
        using var bobClient = app.CreateClient(bob);
        await (await bobClient.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = alice.AccountNumber, amount = 5, client_ref = "conformance-key" })).AssertJsonAsync();

        Assert.Equal((99_305, 99_305), await app.GetBalanceAsync(alice));
        Assert.Equal((100_695, 100_695), await app.GetBalanceAsync(bob));
        Assert.Single(await NotificationsAsync(app, bob), n => n.GetProperty("type").GetString() == NotificationText.Received);
        await app.AssertAuditOkAsync();
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task ConcurrentDuplicates_ApplyOnce(string provider)
    {
        var (app, alice, bob, client) = await PairAsync(provider);

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 50, client_ref = "conformance-race" })));

        var ids = new HashSet<long>();
        foreach (var response in responses)
        {
            ids.Add((await response.AssertJsonAsync()).GetProperty("transfer_id").GetInt64());
        }
        Assert.Single(ids);
        Assert.Equal(1, responses.Count(r => !r.Headers.Contains("Idempotent-Replayed")));
        Assert.Equal((99_950, 99_950), await app.GetBalanceAsync(alice));
        await app.AssertAuditOkAsync();
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Transfer_ToAUsernameThatSeveralShare_IsAmbiguous(string provider)
    {
        var app = await HostAsync(provider);
        var name = "Twin " + Guid.NewGuid().ToString("N")[..6];
        await app.RegisterAndLoginAsync(name);
        await app.RegisterAndLoginAsync(name);
        var alice = await app.RegisterAndLoginAsync();
        using var client = app.CreateClient(alice);

        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_username = name, amount = 1 })).AssertProblemAsync(HttpStatusCode.BadRequest, ErrorCodes.AmbiguousUsername);
        Assert.Equal((100_000, 100_000), await app.GetBalanceAsync(alice));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task RedeliveredCommands_ApplyOnce_AndAnswerAsTheFirstDelivery(string provider)
    {
        var (app, alice, bob, client) = await PairAsync(provider);
        var store = StoreOf(app);
        var to = new Recipient(bob.Id, bob.Username, bob.AccountNumber);
        var now = DateTimeOffset.UtcNow;
        NewTransfer Transfer(long amount, bool instant) => new(alice.Id, to, alice.Username, amount, null, null, instant, "conformance-" + amount, now, now.AddMinutes(5));

        var moveId = Guid.NewGuid();
        var first = await store.TransferAsync(Transfer(300, instant: true), moveId);
        var again = await store.TransferAsync(Transfer(300, instant: true), moveId);
        Assert.True(first.IsSuccess && again.IsSuccess, first.Error?.Detail ?? again.Error?.Detail);
        Assert.Equal(first.Value!.Transfer.TransferId, again.Value!.Transfer.TransferId);
        Assert.Equal(TransferStatus.Success, again.Value.Transfer.Status);

        // A broken rule is recorded with the command: its redelivery gets the same answer.
        var tooMuchId = Guid.NewGuid();
        Assert.Equal(LedgerErrors.InsufficientFunds, (await store.TransferAsync(Transfer(1_000_000, instant: true), tooMuchId)).Error);
        Assert.Equal(LedgerErrors.InsufficientFunds, (await store.TransferAsync(Transfer(1_000_000, instant: true), tooMuchId)).Error);

        // A redelivered confirm answers with the confirmed transfer, not "already resolved", and moves nothing more.
        var hold = await store.TransferAsync(Transfer(200, instant: false), Guid.NewGuid());
        var holdId = hold.Value!.Transfer.TransferId;
        var confirmId = Guid.NewGuid();
        var confirmed = await store.ResolveHoldAsync(alice.Id, holdId, null, confirm: true, DateTimeOffset.UtcNow, confirmId);
        var confirmedAgain = await store.ResolveHoldAsync(alice.Id, holdId, null, confirm: true, DateTimeOffset.UtcNow, confirmId);
        Assert.Equal(TransferStatus.Success, confirmed.Value!.Transfer.Status);
        Assert.Equal(TransferStatus.Success, confirmedAgain.Value!.Transfer.Status);
        Assert.Equal(holdId, confirmedAgain.Value.Transfer.TransferId);
        Assert.Equal(LedgerErrors.InvalidState(TransferStatus.Success, confirm: true), (await store.ResolveHoldAsync(alice.Id, holdId, null, confirm: true, DateTimeOffset.UtcNow, Guid.NewGuid())).Error);

        var registerId = Guid.NewGuid();
        var phone = TallyTestKit.NewPhone();
        var registered = await store.RegisterAsync(phone, "Redelivered", "not-a-real-hash", DateTimeOffset.UtcNow, registerId);
        var registeredAgain = await store.RegisterAsync(phone, "Redelivered", "not-a-real-hash", DateTimeOffset.UtcNow, registerId);
        Assert.Equal(registered.Value!.Id, registeredAgain.Value!.Id);
        Assert.Equal(registered.Value.AccountNumber, registeredAgain.Value.AccountNumber);
        Assert.Equal(LedgerErrors.PhoneExists, (await store.RegisterAsync(phone, "Redelivered", "not-a-real-hash", DateTimeOffset.UtcNow, Guid.NewGuid())).Error);

        Assert.Equal((99_500, 99_500), await app.GetBalanceAsync(alice));
        Assert.Equal((100_500, 100_500), await app.GetBalanceAsync(bob));
        await app.AssertAuditOkAsync();
    }
}
