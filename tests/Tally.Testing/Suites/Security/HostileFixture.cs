namespace Tally.Testing.Suites.Security;

/// <summary>
/// One Tally with a known signing key, two victims with money in motion (a settled transfer, a pending hold and a
/// notification), and an attacker with a live session, a used client_ref and a revoked second session.
/// </summary>
public abstract class HostileFixture : IAsyncLifetime
{
    public const string VictimHoldRef = "victim-hold";
    public const string AttackerRef = "attacker-ref";

    protected HostileFixture(Func<(string Key, string? Value)[], TallyTestHost> host)
    {
        ArgumentNullException.ThrowIfNull(host);
        SigningKey = TestTokens.NewKeyBase64();
        // Holds last an hour so that the snapshot before and after each case sees the same pending funds.
        App = host([("Auth:SigningKey", SigningKey), ("Transfers:HoldSeconds", "3600")]);
    }

    public TallyTestHost App { get; }

    public string SigningKey { get; }

    public TallyUser VictimA { get; private set; } = null!;

    public TallyUser VictimB { get; private set; } = null!;

    public TallyUser Attacker { get; private set; } = null!;

    public long SettledTransferId { get; private set; }

    public long PendingTransferId { get; private set; }

    public long VictimNotificationId { get; private set; }

    public string RevokedSession { get; private set; } = "";

    public async Task InitializeAsync()
    {
        VictimA = await App.RegisterAndLoginAsync("victim-a");
        VictimB = await App.RegisterAndLoginAsync("victim-b");
        Attacker = await App.RegisterAndLoginAsync("attacker");

        using var a = App.CreateClient(VictimA);
        SettledTransferId = (await a.TransferOkAsync(new { to_account_number = VictimB.AccountNumber, amount = 1000 })).Long("transfer_id");
        PendingTransferId = (await a.TransferOkAsync(new { to_account_number = VictimB.AccountNumber, amount = 2000, instant = false, client_ref = VictimHoldRef })).Long("transfer_id");

        using var b = App.CreateClient(VictimB);
        var notifications = await (await b.GetAsync("/api/notifications/notifications")).AssertJsonAsync();
        VictimNotificationId = notifications[0].Long("id");

        using var m = App.CreateClient(Attacker);
        await m.TransferOkAsync(new { to_account_number = VictimB.AccountNumber, amount = 10, client_ref = AttackerRef });

        using var anonymous = App.CreateClient();
        var login = await (await anonymous.PostAsJsonAsync("/api/auth/login", new { phone = Attacker.Phone, password = Attacker.Password })).AssertJsonAsync();
        RevokedSession = login.Str("session");
        using var revoking = App.CreateClient(Attacker with { Session = RevokedSession });
        Assert.Equal(HttpStatusCode.NoContent, (await revoking.PostAsync("/api/auth/logout", null)).StatusCode);
    }

    public Task DisposeAsync()
    {
        App.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The money fields of the audit and both victims' balances, as text to compare byte for byte.</summary>
    public async Task<string> MoneySnapshotAsync()
    {
        var audit = await App.GetAuditAsync();
        var parts = new List<string>();
        foreach (var field in new[] { "ledger_sum", "total_user_balance", "bank_equity_balance", "pending_holds", "accounts" })
        {
            parts.Add(field + "=" + audit.GetProperty(field).GetRawText());
        }
        foreach (var victim in new[] { VictimA, VictimB })
        {
            using var client = App.CreateClient(victim);
            var balance = await (await client.GetAsync("/api/account/balance")).AssertJsonAsync();
            parts.Add(victim.Username + "=" + balance.GetRawText());
        }
        return string.Join("; ", parts);
    }
}

/// <summary>The hostile fixture on a host of the mode <typeparamref name="TApp"/>.</summary>
public sealed class HostileFixture<TApp>() : HostileFixture(settings => TApp.WithSettings(settings))
    where TApp : TallyTestHost, ITallyMode;
