namespace Tally.Testing.Suites.Features;

public abstract class AccountApiTests<TApp>(TApp factory) : IClassFixture<TApp>
    where TApp : TallyTestHost, ITallyMode
{
    [Fact]
    public async Task Me_ReturnsOwnProfileWithUnmaskedPhone()
    {
        var user = await factory.RegisterAndLoginAsync("Frank");
        using var client = factory.CreateClient(user);

        var me = await client.GetAsync("/api/account/me").AssertJsonAsync();

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

        await client.GetAsync(path).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task Balance_OfNewUser_IsTheOpeningBalanceAllAvailable()
    {
        using var client = await factory.CreateNewUserClientAsync();

        var (balance, available) = await client.GetBalanceAsync();

        Assert.Equal(100000, balance);
        Assert.Equal(100000, available);
    }

    [Fact]
    public async Task Balance_AfterTransfer_ReflectsTheMovementOnBothSides()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;

        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 1234 });

        Assert.Equal((98766L, 98766L), await client.GetBalanceAsync());
        Assert.Equal((101234L, 101234L), await factory.GetBalanceAsync(bob));
    }

    [Fact]
    public async Task Lookup_ByAccountNumber_ReturnsTheOwnersUsername()
    {
        using var pair = await factory.RegisterPairAsync(bobName: "Bob Lookup");
        var (_, bob, client) = pair;

        var body = await client.GetAsync($"/api/account/lookup?account_number={bob.AccountNumber}").AssertJsonAsync();

        Assert.Equal(bob.AccountNumber, body.Str("account_number"));
        Assert.Equal("Bob Lookup", body.Str("username"));
        Assert.False(body.TryGetProperty("phone", out _), "A lookup must not disclose the phone");
        Assert.False(body.TryGetProperty("balance", out _), "A lookup must not disclose the balance");
    }

    [Fact]
    public async Task Lookup_OfUnknownAccount_IsNotFound()
    {
        var user = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient(user);
        var unknown = user.AccountNumber == "999999999999" ? "999999999998" : "999999999999";

        await client.GetAsync($"/api/account/lookup?account_number={unknown}").AssertProblemAsync(HttpStatusCode.NotFound, "ACCOUNT_NOT_FOUND");
    }

    [Fact]
    public async Task Transactions_OfNewUser_ListTheOpeningDepositFromTheBank()
    {
        using var client = await factory.CreateNewUserClientAsync();

        var page = await client.GetAsync("/api/account/transactions").AssertJsonAsync();

        page.AssertPaging(total: 1, page: 1, size: 20, pages: 1);
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
        using var pair = await factory.RegisterPairAsync("Alice Tx", "Bob Tx");
        var (alice, bob, aliceClient, bobClient) = pair;

        var sent = await aliceClient.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 700, note = "lunch" });
        var received = await bobClient.TransferOkAsync(new { to_account_number = alice.AccountNumber, amount = 300 });

        var page = await aliceClient.GetAsync("/api/account/transactions").AssertJsonAsync();
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
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var ids = new List<long>();
        for (var i = 1; i <= 4; i++)
        {
            ids.Add((await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = i })).Long("transfer_id"));
        }

        var second = await client.GetAsync("/api/account/transactions?page=2&size=2").AssertJsonAsync();
        var third = await client.GetAsync("/api/account/transactions?page=3&size=2").AssertJsonAsync();
        var beyond = await client.GetAsync("/api/account/transactions?page=9&size=2").AssertJsonAsync();

        second.AssertPaging(total: 5, page: 2, size: 2, pages: 3);
        Assert.Equal([ids[1], ids[0]], second.GetProperty("items").EnumerateArray().Select(i => i.Long("transfer_id")));
        Assert.Equal("Tally Bank", Assert.Single(third.GetProperty("items").EnumerateArray()).Str("counterparty_username"));
        Assert.Empty(beyond.GetProperty("items").EnumerateArray());
    }

    /// <summary>Each malformed account number and paging parameter, with the error code it is refused with.</summary>
    public static TheoryData<string, string> MalformedQueries()
    {
        var queries = new TheoryData<string, string>();
        foreach (var number in new[] { "123", "12345678901", "1234567890123", "abcdefghijkl", "12345678901a", "" })
        {
            queries.Add("lookup?account_number=" + number, "INVALID_ACCOUNT");
        }
        queries.Add("lookup", "INVALID_ACCOUNT");
        foreach (var paging in new[] { "page=0", "page=-1", "page=abc", "page=1.5", "size=0", "size=101", "size=-5", "size=ten", "page=99999999999999999999" })
        {
            queries.Add("transactions?" + paging, "INVALID_PAGE");
        }
        return queries;
    }

    [Theory]
    [MemberData(nameof(MalformedQueries))]
    public async Task Query_WithMalformedParameter_IsRejected(string pathAndQuery, string errorCode)
    {
        using var client = await factory.CreateNewUserClientAsync();

        await client.GetAsync("/api/account/" + pathAndQuery).AssertProblemAsync(HttpStatusCode.BadRequest, errorCode);
    }

    [Fact]
    public async Task Transactions_AcceptTheLargestPageSize()
    {
        using var client = await factory.CreateNewUserClientAsync();

        var page = await client.GetAsync("/api/account/transactions?size=100").AssertJsonAsync();

        Assert.Equal(100, page.Long("size"));
    }
}
