namespace Tally.Server.Tests.Features;

public sealed class RestartTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tally-tests", "restart-" + Guid.NewGuid().ToString("N"));

    private EmbeddedTallyApp Start() => EmbeddedTallyApp.WithSettings(("Storage:DataDirectory", _folder));

    [Fact]
    public async Task Restart_KeepsBalancesHoldsSessionsAndRevocations()
    {
        TallyUser alice, bob;
        string revokedSession;
        long holdId;
        using (var first = Start())
        {
            alice = await first.RegisterAndLoginAsync("Alice");
            bob = await first.RegisterAndLoginAsync("Bob");
            using var client = first.CreateClient(alice);
            var sent = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 1234 });
            Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
            var hold = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 500, instant = false });
            holdId = (await hold.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("transfer_id").GetInt64();

            using var other = first.CreateClient();
            var login = await other.PostAsJsonAsync("/api/auth/login", new { phone = bob.Phone, password = bob.Password });
            revokedSession = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("session").GetString()!;
            other.DefaultRequestHeaders.Add("X-Session", revokedSession);
            Assert.Equal(HttpStatusCode.NoContent, (await other.PostAsync("/api/auth/logout", null)).StatusCode);
        }

        using var second = Start();
        using var aliceClient = second.CreateClient(alice);
        var balance = await aliceClient.GetFromJsonAsync<JsonElement>("/api/account/balance");
        Assert.Equal(100_000 - 1234, balance.GetProperty("balance").GetInt64());
        Assert.Equal(100_000 - 1234 - 500, balance.GetProperty("available").GetInt64());

        using var revoked = second.CreateClient();
        revoked.DefaultRequestHeaders.Add("X-Session", revokedSession);
        Assert.Equal(HttpStatusCode.Unauthorized, (await revoked.GetAsync("/api/account/me")).StatusCode);

        var confirmed = await aliceClient.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = holdId });
        Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
        using var bobClient = second.CreateClient(bob);
        var bobBalance = await bobClient.GetFromJsonAsync<JsonElement>("/api/account/balance");
        Assert.Equal(100_000 + 1234 + 500, bobBalance.GetProperty("balance").GetInt64());
        await second.AssertAuditOkAsync();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Nothing was written.
        }
    }
}
