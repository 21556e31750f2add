namespace Tally.Testing.Suites.Features;

public abstract class AdminApiTests<TApp>(TApp factory) : IClassFixture<TApp>
    where TApp : TallyTestHost, ITallyMode
{
    private static readonly string[] s_adminPaths =
    [
        "/api/account/admin/stats",
        "/api/account/admin/users",
        "/api/account/admin/users/1",
        "/api/account/admin/transfers",
        "/api/account/admin/notifications",
        "/api/account/admin/audit",
    ];

    public static TheoryData<string> AdminPaths => new(s_adminPaths);

    [Theory]
    [MemberData(nameof(AdminPaths))]
    public async Task AdminEndpoint_WithoutSecretHeader_IsForbidden(string path)
    {
        using var client = factory.CreateClient();

        await client.GetAsync(path).AssertProblemAsync(HttpStatusCode.Forbidden, "ADMIN_FORBIDDEN");
    }

    [Theory]
    [MemberData(nameof(AdminPaths))]
    public async Task AdminEndpoint_WithWrongSecret_IsForbidden(string path)
    {
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Secret", TallyTestKit.AdminSecret + "x");

        await client.GetAsync(path).AssertProblemAsync(HttpStatusCode.Forbidden, "ADMIN_FORBIDDEN");
    }

    [Fact]
    public async Task AdminEndpoint_WithAUsersSessionButNoSecret_IsForbidden()
    {
        using var client = await factory.CreateNewUserClientAsync();

        await client.GetAsync("/api/account/admin/stats").AssertProblemAsync(HttpStatusCode.Forbidden, "ADMIN_FORBIDDEN");
    }

    [Fact]
    public async Task AdminEndpoints_WhenNoSecretIsConfigured_AreDisabled()
    {
        using var disabled = TApp.WithSettings(("Admin:Secret", ""));
        using var client = disabled.CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Secret", "");

        foreach (var path in s_adminPaths)
        {
            await client.GetAsync(path).AssertProblemAsync(HttpStatusCode.Forbidden, "ADMIN_DISABLED");
        }
        using var guessing = disabled.CreateAdminClient();
        await guessing.GetAsync("/api/account/admin/audit").AssertProblemAsync(HttpStatusCode.Forbidden, "ADMIN_DISABLED");
    }

    /// <summary>Two fresh users, the first having paid the second <paramref name="amount"/>.</summary>
    private async Task<TallyPair> PairAfterATransferAsync(string aliceName, string bobName, long amount)
    {
        var pair = await factory.RegisterPairAsync(aliceName, bobName);
        await pair.AliceClient.TransferOkAsync(new { to_account_number = pair.Bob.AccountNumber, amount });
        return pair;
    }

    [Fact]
    public async Task Stats_CountUsersBalancesUserTransfersAndNotifications()
    {
        using var app = TApp.WithSettings();
        var alice = await app.RegisterAndLoginAsync();
        var bob = await app.RegisterAndLoginAsync();
        using (var client = app.CreateClient(alice))
        {
            await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 500 });
            await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 250 });
        }
        using var admin = app.CreateAdminClient();

        var stats = await admin.GetAsync("/api/account/admin/stats").AssertJsonAsync();

        Assert.Equal(2, stats.Long("total_users"));
        Assert.Equal(200000, stats.Long("total_balance"));
        Assert.Equal(2, stats.Long("total_transfers"));
        Assert.Equal(750, stats.Long("total_transfer_amount"));
        Assert.Equal(4, stats.Long("total_notifications"));
    }

    [Fact]
    public async Task Users_ListNewestFirstWithPaging()
    {
        using var app = TApp.WithSettings();
        var first = await app.RegisterAndLoginAsync("first");
        var second = await app.RegisterAndLoginAsync("second");
        var third = await app.RegisterAndLoginAsync("third");
        using var admin = app.CreateAdminClient();

        var all = await admin.GetAsync("/api/account/admin/users").AssertJsonAsync();
        var pageTwo = await admin.GetAsync("/api/account/admin/users?page=2&size=2").AssertJsonAsync();

        all.AssertPaging(total: 3, page: 1, size: 20, pages: 1);
        Assert.Equal([third.Id, second.Id, first.Id], all.GetProperty("users").EnumerateArray().Select(u => u.Long("id")));
        var newest = all.GetProperty("users")[0];
        Assert.Equal("third", newest.Str("username"));
        Assert.Equal(third.AccountNumber, newest.Str("account_number"));
        Assert.Equal(100000, newest.Long("balance"));
        Assert.False(string.IsNullOrEmpty(newest.Str("phone")));
        Assert.Equal(2, pageTwo.Long("pages"));
        Assert.Equal(first.Id, Assert.Single(pageTwo.GetProperty("users").EnumerateArray()).Long("id"));
    }

    [Fact]
    public async Task Users_SearchMatchesUsernamePhoneOrAccountNumber()
    {
        var name = "searchable-" + Guid.NewGuid().ToString("N")[..10];
        var user = await factory.RegisterAndLoginAsync(name);
        await factory.RegisterAndLoginAsync();
        using var admin = factory.CreateAdminClient();

        foreach (var term in new[] { name, user.Phone, user.AccountNumber })
        {
            var page = await admin.GetAsync("/api/account/admin/users?search=" + Uri.EscapeDataString(term)).AssertJsonAsync();
            var found = Assert.Single(page.GetProperty("users").EnumerateArray());
            Assert.Equal(user.Id, found.Long("id"));
            Assert.Equal(1, page.Long("total"));
        }
        var none = await admin.GetAsync("/api/account/admin/users?search=" + Guid.NewGuid().ToString("N")).AssertJsonAsync();
        Assert.Empty(none.GetProperty("users").EnumerateArray());
        Assert.Equal(0, none.Long("total"));
    }

    [Fact]
    public async Task UserDetail_ShowsProfileAndItsLastTwentyTransfers()
    {
        using var pair = await factory.RegisterPairAsync("detail-alice", "detail-bob");
        var (alice, bob, client) = pair;
        var ids = new List<long>();
        for (var i = 1; i <= 22; i++)
        {
            ids.Add((await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = i })).Long("transfer_id"));
        }
        using var admin = factory.CreateAdminClient();

        var detail = await admin.GetAsync($"/api/account/admin/users/{alice.Id}").AssertJsonAsync();

        Assert.Equal(alice.Id, detail.Long("id"));
        Assert.Equal("detail-alice", detail.Str("username"));
        Assert.Equal(alice.AccountNumber, detail.Str("account_number"));
        Assert.Equal(100000 - (22 * 23 / 2), detail.Long("balance"));
        Assert.False(string.IsNullOrEmpty(detail.Str("phone")));
        var transfers = detail.GetProperty("transfers").EnumerateArray().ToList();
        Assert.Equal(20, transfers.Count);
        var newest = transfers[0];
        Assert.Equal(ids[^1], newest.Long("id"));
        Assert.Equal(alice.Id, newest.Long("from_user"));
        Assert.Equal(bob.Id, newest.Long("to_user"));
        Assert.Equal(22, newest.Long("amount"));
        Assert.Equal("out", newest.Str("direction"));
        Assert.False(string.IsNullOrEmpty(newest.Str("created_at")));
    }

    [Fact]
    public async Task Transfers_ListTransfersWithBothParties()
    {
        using var pair = await factory.RegisterPairAsync("list-alice", "list-bob");
        var (alice, bob, client) = pair;
        var transfer = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 4321 });
        using var admin = factory.CreateAdminClient();

        var page = await admin.GetAsync("/api/account/admin/transfers?size=100").AssertJsonAsync();

        var listed = page.GetProperty("transfers").EnumerateArray().Single(t => t.Long("id") == transfer.Long("transfer_id"));
        Assert.Equal(alice.Id, listed.Long("from_user"));
        Assert.Equal("list-alice", listed.Str("from_username"));
        Assert.Equal(bob.Id, listed.Long("to_user"));
        Assert.Equal("list-bob", listed.Str("to_username"));
        Assert.Equal(4321, listed.Long("amount"));
        Assert.Equal("SUCCESS", listed.Str("status"));
        Assert.False(string.IsNullOrEmpty(listed.Str("created_at")));
        Assert.True(page.Long("total") >= 1);
        Assert.Equal(1, page.Long("page"));
        Assert.Equal(100, page.Long("size"));
        Assert.True(page.Long("pages") >= 1);
    }

    [Fact]
    public async Task Transfers_PageNewestFirst()
    {
        using var app = TApp.WithSettings();
        using var pair = await app.RegisterPairAsync();
        var (_, bob, client) = pair;
        var first = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 1 });
        var second = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 2 });
        using var admin = app.CreateAdminClient();

        var page = await admin.GetAsync("/api/account/admin/transfers?page=1&size=1").AssertJsonAsync();
        var next = await admin.GetAsync("/api/account/admin/transfers?page=2&size=1").AssertJsonAsync();

        Assert.Equal(second.Long("transfer_id"), Assert.Single(page.GetProperty("transfers").EnumerateArray()).Long("id"));
        Assert.Equal(first.Long("transfer_id"), Assert.Single(next.GetProperty("transfers").EnumerateArray()).Long("id"));
        Assert.Equal(page.Long("total"), page.Long("pages"));
    }

    [Fact]
    public async Task Notifications_FilterByUser()
    {
        using var pair = await PairAfterATransferAsync("notif-alice", "notif-bob", amount: 5000);
        var bob = pair.Bob;
        using var admin = factory.CreateAdminClient();

        var page = await admin.GetAsync($"/api/account/admin/notifications?user_id={bob.Id}").AssertJsonAsync();

        var only = Assert.Single(page.GetProperty("notifications").EnumerateArray());
        Assert.Equal(bob.Id, only.Long("user_id"));
        Assert.Equal("notif-bob", only.Str("username"));
        Assert.Equal("You received 5000 from notif-alice", only.Str("message"));
        Assert.False(only.GetProperty("is_read").GetBoolean());
        Assert.True(only.Long("id") > 0);
        Assert.False(string.IsNullOrEmpty(only.Str("created_at")));
        Assert.Equal(1, page.Long("total"));
        Assert.Equal(1, page.Long("pages"));
    }

    [Fact]
    public async Task Notifications_ListAllUsersNewestFirst()
    {
        using var pair = await PairAfterATransferAsync("all-alice", "all-bob", amount: 77);
        var (alice, bob, _) = pair;
        using var admin = factory.CreateAdminClient();

        var page = await admin.GetAsync("/api/account/admin/notifications?size=100").AssertJsonAsync();
        var items = page.GetProperty("notifications").EnumerateArray().ToList();

        Assert.Contains(items, n => n.Long("user_id") == alice.Id && n.Str("message") == "You sent 77 to all-bob");
        Assert.Contains(items, n => n.Long("user_id") == bob.Id && n.Str("message") == "You received 77 from all-alice");
        Assert.Equal(items.Select(n => n.Long("id")).OrderByDescending(id => id), items.Select(n => n.Long("id")));
    }

    [Theory]
    [InlineData("users?page=0", HttpStatusCode.BadRequest, "INVALID_PAGE")]
    [InlineData("users?size=101", HttpStatusCode.BadRequest, "INVALID_PAGE")]
    [InlineData("users?size=abc", HttpStatusCode.BadRequest, "INVALID_PAGE")]
    [InlineData("transfers?page=-1", HttpStatusCode.BadRequest, "INVALID_PAGE")]
    [InlineData("transfers?size=0", HttpStatusCode.BadRequest, "INVALID_PAGE")]
    [InlineData("notifications?page=x", HttpStatusCode.BadRequest, "INVALID_PAGE")]
    [InlineData("notifications?size=1000", HttpStatusCode.BadRequest, "INVALID_PAGE")]
    [InlineData("users/987654321", HttpStatusCode.NotFound, "USER_NOT_FOUND")]
    public async Task AdminRead_OfNoValidTarget_IsAProblem(string pathAndQuery, HttpStatusCode status, string errorCode)
    {
        using var admin = factory.CreateAdminClient();

        await admin.GetAsync("/api/account/admin/" + pathAndQuery).AssertProblemAsync(status, errorCode);
    }

    [Fact]
    public async Task Audit_BalancesTheLedgerAndCountsHolds()
    {
        using var app = TApp.WithSettings();
        using var pair = await app.RegisterPairAsync();
        var (_, bob, client) = pair;
        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 900 });
        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 2500, instant = false });

        var audit = await app.AssertAuditOkAsync();

        Assert.Equal(200000, audit.Long("total_user_balance"));
        Assert.Equal(-200000, audit.Long("bank_equity_balance"));
        Assert.Equal(2500, audit.Long("pending_holds"));
        Assert.True(audit.Long("accounts") >= 2);
        Assert.Equal(JsonValueKind.True, audit.GetProperty("ok").ValueKind);
    }
}
