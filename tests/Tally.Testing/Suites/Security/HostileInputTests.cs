namespace Tally.Testing.Suites.Security;

public abstract class HostileInputTests<TApp>(HostileFixture<TApp> fixture) : IClassFixture<HostileFixture<TApp>>
    where TApp : TallyTestHost, ITallyMode
{
    public static TheoryData<string> CaseNames => new(HostileCatalogue.Cases.Keys);

    public static TheoryData<string> StorableHostileStrings =>
        new(HostileCatalogue.HostileStrings.Where(s => !s.Value.Any(char.IsControl)).Select(s => s.Label));

    [Fact]
    public void Catalogue_HoldsAtLeastAHundredBadRequests()
    {
        Assert.True(HostileCatalogue.Cases.Count >= 100, $"Only {HostileCatalogue.Cases.Count} hostile cases");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task HostileRequest_GetsAClientProblemAndMovesNoMoney(string name)
    {
        var before = await fixture.MoneySnapshotAsync();
        using var client = fixture.App.CreateClient();
        using var request = HostileCatalogue.Cases[name](fixture);

        using var response = await client.SendAsync(request);

        var problem = await response.AssertClientProblemAsync();
        Assert.Matches("^[A-Z][A-Z0-9_]*$", problem.Str("error_code"));
        Assert.Equal(before, await fixture.MoneySnapshotAsync());
        await fixture.App.AssertAuditOkAsync();
    }

    /// <summary>
    /// Where a hostile string is a valid value (a display name, a note, a client_ref, a search), it is stored and
    /// returned as the same text, and treated as data: it matches nobody else and breaks nothing.
    /// </summary>
    [Theory]
    [MemberData(nameof(StorableHostileStrings))]
    public async Task HostileString_InFreeTextFields_IsStoredVerbatimAsData(string label)
    {
        var value = HostileCatalogue.HostileStrings.Single(s => s.Label == label).Value;
        using var app = TApp.WithSettings();
        var bystander = await app.RegisterAndLoginAsync("bystander");
        var sender = await app.RegisterAndLoginAsync(value);
        using var senderClient = app.CreateClient(sender);
        using var bystanderClient = app.CreateClient(bystander);

        var me = await (await senderClient.GetAsync("/api/account/me")).AssertJsonAsync();
        var transfer = await senderClient.TransferOkAsync(new { to_account_number = bystander.AccountNumber, amount = 77, note = value, client_ref = value });
        var seen = await (await bystanderClient.GetAsync($"/api/transfer/{transfer.Long("transfer_id")}")).AssertJsonAsync();
        var history = await (await bystanderClient.GetAsync("/api/account/transactions")).AssertJsonAsync();
        using var anonymous = app.CreateClient();
        var login = await (await anonymous.PostAsJsonAsync("/api/auth/login", new { username = value, password = sender.Password })).AssertJsonAsync();
        using var admin = app.CreateAdminClient();
        var search = await (await admin.GetAsync("/api/account/admin/users?search=" + Uri.EscapeDataString(value))).AssertJsonAsync();

        Assert.Equal(value.Trim(), me.Str("username"));
        Assert.Equal(value, seen.Str("note"));
        Assert.Equal(value.Trim(), seen.Str("from"));
        var item = history.GetProperty("items")[0];
        Assert.Equal(value.Trim(), item.Str("counterparty_username"));
        Assert.Equal(value, item.Str("note"));
        Assert.Equal(sender.AccountNumber, login.Str("account_number"));
        Assert.Equal(sender.Id, Assert.Single(search.GetProperty("users").EnumerateArray()).Long("id"));
        Assert.Equal((100077L, 100077L), await bystanderClient.GetBalanceAsync());
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task AdminSearch_WithInjection_MatchesNobody()
    {
        using var admin = fixture.App.CreateAdminClient();

        foreach (var term in new[] { "' OR 1=1 --", "' OR '1'='1", "\" OR \"\"=\"", "%' OR 1=1 --", "*" })
        {
            var page = await (await admin.GetAsync("/api/account/admin/users?search=" + Uri.EscapeDataString(term))).AssertJsonAsync();
            Assert.Empty(page.GetProperty("users").EnumerateArray());
            Assert.Equal(0, page.Long("total"));
        }
    }

    [Fact]
    public async Task Victims_StillUseTheirSessionsAfterTheAttacks()
    {
        foreach (var victim in new[] { fixture.VictimA, fixture.VictimB })
        {
            using var client = fixture.App.CreateClient(victim);
            var me = await (await client.GetAsync("/api/account/me")).AssertJsonAsync();
            Assert.Equal(victim.Id, me.Long("id"));
        }
        using var a = fixture.App.CreateClient(fixture.VictimA);
        var pending = await (await a.GetAsync($"/api/transfer/{fixture.PendingTransferId}")).AssertJsonAsync();
        Assert.Equal("PENDING", pending.Str("status"));
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/api/account/balance")).StatusCode);
    }
}
