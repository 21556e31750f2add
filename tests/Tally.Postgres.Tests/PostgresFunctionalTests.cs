using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Tally.Server.Storage.Postgres;

namespace Tally.Postgres.Tests;

/// <summary>The API's behaviour with Storage:Provider=Postgres: the same outcomes, codes and formats as the embedded mode.</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class PostgresFunctionalTests(PostgresServer server)
{
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")]
    private static partial Regex CreatedAtFormat();

    private Task<PgTallyFactory> App() => server.AppAsync("functional");

    /// <summary>The app of these tests with two new users, Alice and Bob.</summary>
    private async Task<(PgTallyFactory App, TallyUser Alice, TallyUser Bob)> AliceAndBobAsync()
    {
        var app = await App();
        var alice = await app.RegisterAndLoginAsync("Alice");
        var bob = await app.RegisterAndLoginAsync("Bob");
        return (app, alice, bob);
    }

    [Fact]
    public async Task Ready_ReportsPostgres()
    {
        var app = await App();
        using var client = app.CreateClient();
        var response = await client.GetAsync("/ready");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.Contains("database", text, StringComparison.Ordinal);
        Assert.Contains("postgres", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RegisterLoginAndReads_MatchTheContract()
    {
        var app = await App();
        var alice = await app.RegisterAndLoginAsync("Alice Pg");
        using var client = app.CreateClient(alice);

        var me = await (await client.GetAsync("/api/account/me")).AssertJsonAsync();
        Assert.Equal(alice.Id, me.GetProperty("id").GetInt64());
        Assert.Equal(alice.Phone, me.GetProperty("phone").GetString());
        Assert.Equal(100_000, me.GetProperty("balance").GetInt64());
        Assert.Matches(@"^\d{12}$", alice.AccountNumber);
        Assert.NotEqual("000000000000", alice.AccountNumber);

        var lookup = await (await client.GetAsync($"/api/account/lookup?account_number={alice.AccountNumber}")).AssertJsonAsync();
        Assert.Equal("Alice Pg", lookup.GetProperty("username").GetString());
        await (await client.GetAsync("/api/account/lookup?account_number=000000000000")).AssertProblemAsync(HttpStatusCode.NotFound, "ACCOUNT_NOT_FOUND");

        // The opening balance is a ledger transfer from the bank's equity account.
        var history = await (await client.GetAsync("/api/account/transactions?page=1&size=10")).AssertJsonAsync();
        var opening = Assert.Single(history.GetProperty("items").EnumerateArray());
        Assert.Equal("in", opening.GetProperty("direction").GetString());
        Assert.Equal("000000000000", opening.GetProperty("counterparty_account_number").GetString());
        Assert.Equal("Tally Bank", opening.GetProperty("counterparty_username").GetString());
        Assert.Matches(CreatedAtFormat(), opening.GetProperty("created_at").GetString());

        using var anonymous = app.CreateClient();
        var again = await anonymous.PostAsJsonAsync("/api/auth/register", new { phone = alice.Phone, username = "Other", password = "another password" });
        await again.AssertProblemAsync(HttpStatusCode.Conflict, "PHONE_EXISTS");
        var badLogin = await anonymous.PostAsJsonAsync("/api/auth/login", new { phone = alice.Phone, password = "wrong password!" });
        await badLogin.AssertProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
        var byName = await anonymous.PostAsJsonAsync("/api/auth/login", new { username = "Alice Pg", password = alice.Password });
        await byName.AssertJsonAsync();
    }

    [Fact]
    public async Task InstantTransfer_MovesMoneyAndNotifiesBoth()
    {
        var (app, alice, bob) = await AliceAndBobAsync();
        using var client = app.CreateClient(alice);

        var transfer = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 5000, note = "lunch" })).AssertJsonAsync();
        Assert.True(transfer.GetProperty("ok").GetBoolean());
        Assert.Equal("SUCCESS", transfer.GetProperty("status").GetString());
        Assert.Equal("Alice", transfer.GetProperty("from").GetString());
        Assert.Equal("Bob", transfer.GetProperty("to").GetString());
        Assert.Equal(bob.AccountNumber, transfer.GetProperty("to_account_number").GetString());
        Assert.Equal(5000, transfer.GetProperty("amount").GetInt64());
        Assert.Equal("lunch", transfer.GetProperty("note").GetString());
        Assert.Equal(JsonValueKind.Null, transfer.GetProperty("hold_until").ValueKind);
        Assert.Matches(CreatedAtFormat(), transfer.GetProperty("created_at").GetString());

        Assert.Equal((95_000, 95_000), await app.GetBalanceAsync(alice));
        Assert.Equal((105_000, 105_000), await app.GetBalanceAsync(bob));

        var id = transfer.GetProperty("transfer_id").GetInt64();
        using var bobClient = app.CreateClient(bob);
        var seen = await (await bobClient.GetAsync($"/api/transfer/{id}")).AssertJsonAsync();
        Assert.Equal(transfer.GetProperty("created_at").GetString(), seen.GetProperty("created_at").GetString());
        var notifications = await (await bobClient.GetAsync("/api/notifications/notifications")).AssertJsonAsync();
        var received = notifications.EnumerateArray().First();
        Assert.Equal("transfer_received", received.GetProperty("type").GetString());
        Assert.Equal("You received 5000 from Alice", received.GetProperty("message").GetString());
        Assert.False(received.GetProperty("is_read").GetBoolean());
        var read = await bobClient.PostAsync($"/api/notifications/{received.GetProperty("id").GetInt64()}/read", null);
        Assert.Equal(HttpStatusCode.NoContent, read.StatusCode);
        notifications = await (await bobClient.GetAsync("/api/notifications/notifications")).AssertJsonAsync();
        Assert.True(notifications.EnumerateArray().First().GetProperty("is_read").GetBoolean());
        var sent = await (await client.GetAsync("/api/notifications/notifications")).AssertJsonAsync();
        Assert.Equal("You sent 5000 to Bob", sent.EnumerateArray().First().GetProperty("message").GetString());

        // Other recipients, and the errors a transfer can meet.
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_phone = bob.Phone, amount = 1 })).AssertJsonAsync();
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 10_000_000 }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INSUFFICIENT_FUNDS");
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = alice.AccountNumber, amount = 1 }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "SELF_TRANSFER");
        Assert.Equal((94_999, 94_999), await app.GetBalanceAsync(alice));
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task IdempotencyKey_ReplaysTheFirstResultAndRefusesAnotherPayload()
    {
        var (app, alice, bob) = await AliceAndBobAsync();
        using var client = app.CreateClient(alice);

        async Task<HttpResponseMessage> Send(long amount)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer") { Content = JsonContent.Create(new { to_account_number = bob.AccountNumber, amount }) };
            request.Headers.Add("Idempotency-Key", "pg-key-1");
            return await client.SendAsync(request);
        }

        var first = await Send(700);
        var firstBody = await first.AssertJsonAsync();
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        var second = await Send(700);
        var secondBody = await second.AssertJsonAsync();
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(firstBody.ToString(), secondBody.ToString());
        await (await Send(701)).AssertProblemAsync(HttpStatusCode.Conflict, "DUPLICATE_CLIENT_REF");

        // Concurrent duplicates apply once.
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 50, client_ref = "pg-key-2" })));
        var ids = new HashSet<long>();
        foreach (var response in concurrent)
        {
            ids.Add((await response.AssertJsonAsync()).GetProperty("transfer_id").GetInt64());
        }
        Assert.Single(ids);
        Assert.Equal(1, concurrent.Count(r => !r.Headers.Contains("Idempotent-Replayed")));

        Assert.Equal(100_000 - 750, (await app.GetBalanceAsync(alice)).Balance);
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task Holds_ConfirmCancelAndResolveOnce()
    {
        var (app, alice, bob) = await AliceAndBobAsync();
        var carol = await app.RegisterAndLoginAsync("Carol");
        using var client = app.CreateClient(alice);

        var hold = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 3000, instant = false, client_ref = "hold-1" })).AssertJsonAsync();
        Assert.Equal("PENDING", hold.GetProperty("status").GetString());
        Assert.Matches(CreatedAtFormat(), hold.GetProperty("hold_until").GetString());
        Assert.Equal((100_000, 97_000), await app.GetBalanceAsync(alice));
        var id = hold.GetProperty("transfer_id").GetInt64();

        using (var bobClient = app.CreateClient(bob))
        {
            await (await bobClient.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = id })).AssertProblemAsync(HttpStatusCode.Forbidden, "NOT_OWNER");
        }
        using (var carolClient = app.CreateClient(carol))
        {
            await (await carolClient.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = id })).AssertProblemAsync(HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND");
        }

        var confirmed = await (await client.PostAsJsonAsync("/api/transfer/confirm", new { client_ref = "hold-1" })).AssertJsonAsync();
        Assert.Equal("SUCCESS", confirmed.GetProperty("status").GetString());
        Assert.Equal(hold.GetProperty("created_at").GetString(), confirmed.GetProperty("created_at").GetString());
        Assert.Equal((97_000, 97_000), await app.GetBalanceAsync(alice));
        Assert.Equal((103_000, 103_000), await app.GetBalanceAsync(bob));
        var again = await (await client.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = id })).AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        Assert.Equal("The transfer is success and can no longer be cancelled.", again.GetProperty("detail").GetString());

        var second = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 500, instant = false })).AssertJsonAsync();
        var cancelled = await (await client.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = second.GetProperty("transfer_id").GetInt64() })).AssertJsonAsync();
        Assert.Equal("CANCELLED", cancelled.GetProperty("status").GetString());
        Assert.Equal((97_000, 97_000), await app.GetBalanceAsync(alice));
        await (await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = 987_654_321 })).AssertProblemAsync(HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND");

        // A hold larger than what is available is refused, and an available amount cannot be spent twice.
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 97_001, instant = false }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INSUFFICIENT_FUNDS");
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 90_000, instant = false })).AssertJsonAsync();
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 8_000 }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INSUFFICIENT_FUNDS");
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task Holds_ExpireAtHoldUntilAndReleaseTheFunds()
    {
        var app = await server.AppAsync("expiry", new Dictionary<string, string?>
        {
            ["Transfers:HoldSeconds"] = "1",
            ["Transfers:ExpirySweepInterval"] = "00:00:00.200",
        });
        var alice = await app.RegisterAndLoginAsync("Alice");
        var bob = await app.RegisterAndLoginAsync("Bob");
        using var client = app.CreateClient(alice);
        var hold = await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 4000, instant = false })).AssertJsonAsync();
        var id = hold.GetProperty("transfer_id").GetInt64();
        Assert.Equal((100_000, 96_000), await app.GetBalanceAsync(alice));

        var deadline = DateTime.UtcNow.AddSeconds(15);
        string? status = null;
        while (DateTime.UtcNow < deadline)
        {
            status = (await (await client.GetAsync($"/api/transfer/{id}")).AssertJsonAsync()).GetProperty("status").GetString();
            if (status == "EXPIRED")
            {
                break;
            }
            await Task.Delay(200);
        }
        Assert.Equal("EXPIRED", status);
        Assert.Equal((100_000, 100_000), await app.GetBalanceAsync(alice));
        var late = await (await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = id })).AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        Assert.Equal("The transfer is expired and can no longer be confirmed.", late.GetProperty("detail").GetString());
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task AdminEndpoints_ReadThePostgresLedger()
    {
        var app = await App();
        var zed = await app.RegisterAndLoginAsync("Zed Searchable");
        var amy = await app.RegisterAndLoginAsync("Amy");
        using (var client = app.CreateClient(zed))
        {
            await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = amy.AccountNumber, amount = 42 })).AssertJsonAsync();
        }
        using var admin = app.CreateAdminClient();
        var stats = await (await admin.GetAsync("/api/account/admin/stats")).AssertJsonAsync();
        Assert.True(stats.GetProperty("total_users").GetInt64() >= 2);
        Assert.True(stats.GetProperty("total_transfer_amount").GetInt64() >= 42);
        var users = await (await admin.GetAsync("/api/account/admin/users?search=zed%20SEARCH")).AssertJsonAsync();
        Assert.Equal(zed.Id, Assert.Single(users.GetProperty("users").EnumerateArray()).GetProperty("id").GetInt64());
        var detail = await (await admin.GetAsync($"/api/account/admin/users/{zed.Id}")).AssertJsonAsync();
        Assert.Equal(2, detail.GetProperty("transfers").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, detail.GetProperty("transfers")[1].GetProperty("from_user").ValueKind);
        var transfers = await (await admin.GetAsync("/api/account/admin/transfers?page=1&size=5")).AssertJsonAsync();
        Assert.True(transfers.GetProperty("total").GetInt64() >= 1);
        var notifications = await (await admin.GetAsync($"/api/account/admin/notifications?user_id={amy.Id}")).AssertJsonAsync();
        Assert.Equal("Amy", notifications.GetProperty("notifications")[0].GetProperty("username").GetString());
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task Logout_RevokesTheSession()
    {
        var app = await App();
        var alice = await app.RegisterAndLoginAsync();
        using var client = app.CreateClient(alice);
        Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsync("/api/auth/logout", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/account/me")).StatusCode);
        await using var connection = new NpgsqlConnection(app.ConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT COUNT(*) FROM revoked_tokens", connection);
        Assert.True((long)(await count.ExecuteScalarAsync())! >= 1);
    }

    [Fact]
    public async Task Migrations_AreSafeWhenSeveralInstancesStartAtOnce()
    {
        var connectionString = await server.CreateDatabaseAsync("migrate");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = connectionString }).Build();
        var databases = Enumerable.Range(0, 6).Select(_ => new PostgresDatabase(configuration, NullLogger<PostgresDatabase>.Instance)).ToList();
        try
        {
            await Task.WhenAll(databases.Select(d => Task.Run(d.Migrate)));
            databases[0].Migrate();
            await using var connection = await databases[0].DataSource.OpenConnectionAsync();
            await using var versions = new NpgsqlCommand("SELECT COUNT(*), MAX(version) FROM tally_schema_migrations", connection);
            await using var reader = await versions.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(reader.GetInt32(1), reader.GetInt64(0));
            await reader.DisposeAsync();
            await using var equity = new NpgsqlCommand("SELECT account_number, kind FROM accounts WHERE id = 0", connection);
            await using var row = await equity.ExecuteReaderAsync();
            Assert.True(await row.ReadAsync());
            Assert.Equal("000000000000", row.GetString(0));
            Assert.Equal("equity", row.GetString(1));
        }
        finally
        {
            foreach (var database in databases)
            {
                await database.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Constraints_HoldInTheDatabase()
    {
        var app = await App();
        var alice = await app.RegisterAndLoginAsync();
        await using var connection = new NpgsqlConnection(app.ConnectionString);
        await connection.OpenAsync();
        var negative = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var command = new NpgsqlCommand($"UPDATE accounts SET balance = -1 WHERE id = {alice.Id}", connection);
            await command.ExecuteNonQueryAsync();
        });
        Assert.Equal(PostgresErrorCodes.CheckViolation, negative.SqlState);
        var duplicate = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var command = new NpgsqlCommand(
                $"INSERT INTO transfers (from_account_id, to_account_id, amount, status, client_ref, created_at) VALUES ({alice.Id}, 0, 1, 'SUCCESS', 'k', 'x'), ({alice.Id}, 0, 1, 'SUCCESS', 'k', 'x')", connection);
            await command.ExecuteNonQueryAsync();
        });
        Assert.Equal(PostgresErrorCodes.UniqueViolation, duplicate.SqlState);
    }

    [Fact]
    public void PostgresMode_RequiresASigningKey()
    {
        using var app = new PgTallyFactory(server.AdminConnectionString, new Dictionary<string, string?> { ["Auth:SigningKey"] = "" });
        var error = Assert.ThrowsAny<Exception>(() => app.Services.GetRequiredService<Tally.Server.Storage.ILedgerReader>());
        Assert.Contains("Auth:SigningKey", error.ToString(), StringComparison.Ordinal);
    }
}
