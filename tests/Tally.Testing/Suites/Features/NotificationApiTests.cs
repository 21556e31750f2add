namespace Tally.Testing.Suites.Features;

public abstract class NotificationApiTests<TApp>(TApp factory) : IClassFixture<TApp>
    where TApp : TallyTestHost, ITallyMode
{
    private static string UniqueName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private static async Task<List<JsonElement>> ListAsync(HttpClient client)
    {
        var body = await client.GetAsync("/api/notifications/notifications").AssertJsonAsync();
        Assert.Equal(JsonValueKind.Array, body.ValueKind);
        return [.. body.EnumerateArray()];
    }

    [Fact]
    public async Task List_OfNewUser_IsEmpty()
    {
        using var client = await factory.CreateNewUserClientAsync();

        Assert.Empty(await ListAsync(client));
    }

    [Fact]
    public async Task Transfer_NotifiesReceiverAndSender()
    {
        using var pair = await factory.RegisterPairAsync(UniqueName("Alice"), UniqueName("Bob"));
        var (alice, bob, aliceClient, bobClient) = pair;

        var transfer = await aliceClient.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 5000 });

        var received = Assert.Single(await ListAsync(bobClient));
        Assert.True(received.Long("id") > 0);
        Assert.Equal("transfer_received", received.Str("type"));
        Assert.Equal($"You received 5000 from {alice.Username}", received.Str("message"));
        Assert.False(received.GetProperty("is_read").GetBoolean());
        Assert.Equal(transfer.Long("transfer_id"), received.Long("transfer_id"));
        Assert.Equal(5000, received.Long("amount"));
        Assert.False(string.IsNullOrEmpty(received.Str("created_at")));
        var sent = Assert.Single(await ListAsync(aliceClient));
        Assert.Equal("transfer_sent", sent.Str("type"));
        Assert.Equal($"You sent 5000 to {bob.Username}", sent.Str("message"));
        Assert.Equal(transfer.Long("transfer_id"), sent.Long("transfer_id"));
        Assert.NotEqual(received.Long("id"), sent.Long("id"));
    }

    [Fact]
    public async Task List_IsNewestFirstAndHoldsAtMostFifty()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, aliceClient, bobClient) = pair;
        for (var amount = 1; amount <= 52; amount++)
        {
            await aliceClient.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount });
        }

        var items = await ListAsync(bobClient);

        Assert.Equal(50, items.Count);
        Assert.Equal(Enumerable.Range(3, 50).Reverse().Select(a => (long)a), items.Select(n => n.Long("amount")));
        Assert.Equal(items.Select(n => n.Long("id")).OrderByDescending(id => id), items.Select(n => n.Long("id")));
    }

    [Fact]
    public async Task Hold_NotifiesOnlyOnceConfirmed()
    {
        using var pair = await factory.RegisterPairAsync(UniqueName("Alice"), UniqueName("Bob"));
        var (alice, bob, aliceClient, bobClient) = pair;
        var confirmed = await aliceClient.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 700, instant = false });
        var cancelled = await aliceClient.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 800, instant = false });

        Assert.Empty(await ListAsync(bobClient));
        Assert.Empty(await ListAsync(aliceClient));

        await aliceClient.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = confirmed.Long("transfer_id") }).AssertJsonAsync();
        await aliceClient.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = cancelled.Long("transfer_id") }).AssertJsonAsync();

        var received = Assert.Single(await ListAsync(bobClient));
        Assert.Equal(confirmed.Long("transfer_id"), received.Long("transfer_id"));
        Assert.Equal($"You received 700 from {alice.Username}", received.Str("message"));
        Assert.Equal(confirmed.Long("transfer_id"), Assert.Single(await ListAsync(aliceClient)).Long("transfer_id"));
    }

    [Fact]
    public async Task Read_MarksTheNotificationRead()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, aliceClient, bobClient) = pair;
        await aliceClient.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 1 });
        await aliceClient.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 2 });
        var before = await ListAsync(bobClient);

        var response = await bobClient.PostAsync($"/api/notifications/{before[1].Long("id")}/read", null);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var after = await ListAsync(bobClient);
        Assert.False(after[0].GetProperty("is_read").GetBoolean());
        Assert.True(after[1].GetProperty("is_read").GetBoolean());
    }

    [Fact]
    public async Task Read_OfSomeoneElsesNotification_IsNotFoundAndChangesNothing()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, aliceClient, bobClient) = pair;
        await aliceClient.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 1 });
        var bobs = Assert.Single(await ListAsync(bobClient));

        await aliceClient.PostAsync($"/api/notifications/{bobs.Long("id")}/read", null).AssertProblemAsync(HttpStatusCode.NotFound, "NOTIFICATION_NOT_FOUND");
        Assert.False(Assert.Single(await ListAsync(bobClient)).GetProperty("is_read").GetBoolean());
    }

    [Fact]
    public async Task Read_OfUnknownNotification_IsNotFound()
    {
        using var client = await factory.CreateNewUserClientAsync();

        await client.PostAsync("/api/notifications/987654321/read", null).AssertProblemAsync(HttpStatusCode.NotFound, "NOTIFICATION_NOT_FOUND");
    }

    [Fact]
    public async Task Notifications_WithoutSession_AreUnauthorized()
    {
        using var client = factory.CreateClient();

        await client.GetAsync("/api/notifications/notifications").AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
        await client.PostAsync("/api/notifications/1/read", null).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }
}
