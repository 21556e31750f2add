namespace Tally.Testing.Suites.Features;

public abstract class AccountApiTests<TApp>(TApp factory) : IClassFixture<TApp>
    where TApp : TallyTestHost, ITallyMode
{
    [Fact]
    public async Task Me_ReturnsOwnProfileWithUnmaskedPhone()
    {
        var user = await factory.RegisterAndLoginAsync("Frank");
        using var client = factory.CreateClient(user);

        var me = await (await client.GetAsync("/api/account/me")).AssertJsonAsync();

        Assert.Equal(user.Id, me.Long("id"));
        Assert.Equal(user.Phone, me.Str("phone"));
        Assert.Equal("Frank", me.Str("username"));
        Assert.Equal(user.AccountNumber, me.Str("account_number"));
        Assert.Equal(100000, me.Long("balance"));
    }

    [Theory]
    [InlineData("/api/account/me")]
    [InlineData("/api/account/balance")]
    [InlineData("/api/account/lookup?account_number=123456789012")]
    [InlineData("/api/account/transactions")]
    public async Task AccountEndpoints_WithoutSession_AreUnauthorized(string path)
    {
        using var client = factory.CreateClient();

        var response = await client.GetAsync(path);

        await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task Balance_OfNewUser_IsTheOpeningBalanceAllAvailable()
    {
        var user = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient(user);

        var (balance, available) = await client.GetBalanceAsync();

        Assert.Equal(100000, balance);
        Assert.Equal(100000, available);
    }

    [Fact]
    public async Task Balance_AfterTransfer_ReflectsTheMovementOnBothSides()
    {
        var alice = await factory.RegisterAndLoginAsync();
        var bob = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient(alice);

        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 1234 });

        Assert.Equal((98766L, 98766L), await client.GetBalanceAsync());
        Assert.Equal((101234L, 101234L), await factory.GetBalanceAsync(bob));
    }

    [Fact]
    public async Task Lookup_ByAccountNumber_ReturnsTheOwnersUsername()
    {
        var alice = await factory.RegisterAndLoginAsync();
        var bob = await factory.RegisterAndLoginAsync("Bob Lookup");
        using var client = factory.CreateClient(alice);

        var body = await (await client.GetAsync($"/api/account/lookup?account_number={bob.AccountNumber}")).AssertJsonAsync();

        Assert.Equal(bob.AccountNumber, body.Str("account_number"));
        Assert.Equal("Bob Lookup", body.Str("username"));
        Assert.False(body.TryGetProperty("phone", out _), "A lookup must not disclose the phone");
        Assert.False(body.TryGetProperty("balance", out _), "A lookup must not disclose the balance");
    }

    [Theory]
    [InlineData("?account_number=123")]
    [InlineData("?account_number=12345678901")]
    [InlineData("?account_number=1234567890123")]
    [InlineData("?account_number=abcdefghijkl")]
    [InlineData("?account_number=12345678901a")]
    [InlineData("?account_number=")]
    [InlineData("")]
    public async Task Lookup_WithMalformedAccountNumber_IsRejected(string query)
    {
        var user = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient(user);

        var response = await client.GetAsync("/api/account/lookup" + query);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_ACCOUNT");
    }

    [Fact]
    public async Task Lookup_OfUnknownAccount_IsNotFound()
    {
        var user = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient(user);
        var unknown = user.AccountNumber == "999999999999" ? "999999999998" : "999999999999";

        var response = await client.GetAsync($"/api/account/lookup?account_number={unknown}");

        await response.AssertProblemAsync(HttpStatusCode.NotFound, "ACCOUNT_NOT_FOUND");
    }

    [Fact]
    public async Task Transactions_OfNewUser_ListTheOpeningDepositFromTheBank()
    {
        var user = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient(user);

        var page = await (await client.GetAsync("/api/account/transactions")).AssertJsonAsync();

        Assert.Equal(1, page.Long("total"));
        Assert.Equal(1, page.Long("page"));
        Assert.Equal(20, page.Long("size"));
        Assert.Equal(1, page.Long("pages"));
        var opening = Assert.Single(page.GetProperty("items").EnumerateArray());
        Assert.Equal("in", opening.Str("direction"));
        Assert.Equal("000000000000", opening.Str("counterparty_account_number"));
        Assert.Equal("Tally Bank", opening.Str("counterparty_username"));
        Assert.Equal(100000, opening.Long("amount"));
        Assert.Equal("SUCCESS", opening.Str("status"));
        Assert.True(opening.Long("transfer_id") > 0);
        Assert.False(string.IsNullOrEmpty(opening.Str("created_at")));
    }

    [Fact]
    public async Task Transactions_ListTransfersNewestFirstWithDirectionAndCounterparty()
    {
        var alice = await factory.RegisterAndLoginAsync("Alice Tx");
        var bob = await factory.RegisterAndLoginAsync("Bob Tx");
        using var aliceClient = factory.CreateClient(alice);
        using var bobClient = factory.CreateClient(bob);

        var sent = await aliceClient.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 700, note = "lunch" });
        var received = await bobClient.TransferOkAsync(new { to_account_number = alice.AccountNumber, amount = 300 });

        var page = await (await aliceClient.GetAsync("/api/account/transactions")).AssertJsonAsync();
        var items = page.GetProperty("items").EnumerateArray().ToList();

        Assert.Equal(3, page.Long("total"));
        Assert.Equal(3, items.Count);
        Assert.Equal(received.Long("transfer_id"), items[0].Long("transfer_id"));
        Assert.Equal("in", items[0].Str("direction"));
        Assert.Equal(bob.AccountNumber, items[0].Str("counterparty_account_number"));
        Assert.Equal("Bob Tx", items[0].Str("counterparty_username"));
        Assert.Equal(300, items[0].Long("amount"));
        Assert.Equal(sent.Long("transfer_id"), items[1].Long("transfer_id"));
        Assert.Equal("out", items[1].Str("direction"));
        Assert.Equal(bob.AccountNumber, items[1].Str("counterparty_account_number"));
        Assert.Equal(700, items[1].Long("amount"));
        Assert.Equal("lunch", items[1].Str("note"));
        Assert.Equal("SUCCESS", items[1].Str("status"));
        Assert.Equal("Tally Bank", items[2].Str("counterparty_username"));
    }

    [Fact]
    public async Task Transactions_PageThroughTheHistory()
    {
        var alice = await factory.RegisterAndLoginAsync();
        var bob = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient(alice);
        var ids = new List<long>();
        for (var i = 1; i <= 4; i++)
        {
            ids.Add((await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = i })).Long("transfer_id"));
        }

        var second = await (await client.GetAsync("/api/account/transactions?page=2&size=2")).AssertJsonAsync();
        var third = await (await client.GetAsync("/api/account/transactions?page=3&size=2")).AssertJsonAsync();
        var beyond = await (await client.GetAsync("/api/account/transactions?page=9&size=2")).AssertJsonAsync();

        Assert.Equal(5, second.Long("total"));
        Assert.Equal(2, second.Long("page"));
        Assert.Equal(2, second.Long("size"));
        Assert.Equal(3, second.Long("pages"));
        Assert.Equal([ids[1], ids[0]], second.GetProperty("items").EnumerateArray().Select(i => i.Long("transfer_id")));
        Assert.Equal("Tally Bank", Assert.Single(third.GetProperty("items").EnumerateArray()).Str("counterparty_username"));
        Assert.Empty(beyond.GetProperty("items").EnumerateArray());
    }

    [Theory]
    [InlineData("page=0")]
    [InlineData("page=-1")]
    [InlineData("page=abc")]
    [InlineData("page=1.5")]
    [InlineData("size=0")]
    [InlineData("size=101")]
    [InlineData("size=-5")]
    [InlineData("size=ten")]
    [InlineData("page=99999999999999999999")]
    public async Task Transactions_WithBadPaging_IsRejected(string query)
    {
        var user = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient(user);

        var response = await client.GetAsync("/api/account/transactions?" + query);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_PAGE");
    }

    [Fact]
    public async Task Transactions_AcceptTheLargestPageSize()
    {
        var user = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient(user);

        var page = await (await client.GetAsync("/api/account/transactions?size=100")).AssertJsonAsync();

        Assert.Equal(100, page.Long("size"));
    }

    [Fact]
    public async Task Health_ReportsHealthyAccountService()
    {
        using var client = factory.CreateClient();

        var body = await (await client.GetAsync("/api/account/health")).AssertJsonAsync();

        Assert.Equal("healthy", body.Str("status"));
        Assert.Equal("account", body.Str("service"));
    }
}
