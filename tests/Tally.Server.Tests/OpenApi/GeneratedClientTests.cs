using System.Text.Json.Nodes;
using Tally.Server.Tests.OpenApi.Client;

namespace Tally.Server.Tests.OpenApi;

/// <summary>
/// The C# client that NSwag generates at build time from OpenApi/Client/tally-v1.json (see the project file) works
/// against a running Tally, and that copy is the document Tally serves, so the client can't drift from it.
/// </summary>
public sealed class GeneratedClientTests(KestrelTallyApp app) : IClassFixture<KestrelTallyApp>
{
    private const string Password = "correct horse battery";

    private static string CopyPath => Path.Combine(OpenApiTools.RepoRoot, "tests", "Tally.Server.Tests", "OpenApi", "Client", "tally-v1.json");

    [Fact]
    public async Task CheckedInDocument_IsTheServedDocument()
    {
        using var http = app.CreateClient();
        var served = JsonNode.Parse(await http.GetStringAsync("/openapi/v1.json"))!.AsObject();
        // The servers entry names the address the request came to: it differs per host, and no client is built from it.
        served.Remove("servers");
        var copy = JsonNode.Parse(await File.ReadAllTextAsync(CopyPath));

        var current = OpenApiTools.ArtifactPath("tally-v1.served.json");
        await File.WriteAllTextAsync(current, served.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        Assert.True(JsonNode.DeepEquals(served, copy),
            $"The served OpenAPI document differs from {CopyPath}, which the generated client is built from. "
            + $"If the change is meant, copy {current} over it and rebuild.");
    }

    [Fact]
    public async Task GeneratedClient_RegistersLogsInTransfersAndReadsHistory()
    {
        using var http = app.CreateClient();
        // Keeps each error answer's text on the exception, to read its error_code.
        var client = new TallyClient(http) { ReadResponseAsString = true };
        var alice = await RegisterAsync(client, "alice");
        var bob = await RegisterAsync(client, "bob");

        var login = await client.LoginAsync(new LoginRequest { Phone = alice.Phone, Password = Password });
        Assert.Equal("bearer", login.Token_type);
        http.DefaultRequestHeaders.Add("X-Session", login.Session);

        var before = await client.GetBalanceAsync();
        Assert.Equal(100000, before.Balance);
        Assert.Equal(100000, before.Available);

        var key = "smoke-" + Guid.NewGuid().ToString("N");
        var request = new TransferRequest { To_account_number = bob.AccountNumber, Amount = 2500, Note = "smoke test" };
        var transfer = await client.CreateTransferAsync(key, request);
        Assert.Equal(TransferViewStatus.SUCCESS, transfer.Status);
        Assert.Equal(2500, transfer.Amount);
        Assert.Equal(key, transfer.Client_ref);
        var replay = await client.CreateTransferAsync(key, request);
        Assert.Equal(transfer.Transfer_id, replay.Transfer_id);

        var conflict = await Assert.ThrowsAnyAsync<ApiException>(() =>
            client.CreateTransferAsync(key, new TransferRequest { To_account_number = bob.AccountNumber, Amount = 2600 }));
        Assert.Equal(409, conflict.StatusCode);
        Assert.Contains("DUPLICATE_CLIENT_REF", conflict.Response, StringComparison.Ordinal);

        Assert.Equal(97500, (await client.GetBalanceAsync()).Balance);
        var seen = await client.GetTransferAsync(transfer.Transfer_id);
        Assert.Equal(transfer.Transfer_id, seen.Transfer_id);

        var history = await client.ListTransactionsAsync(1, 10);
        // Newest first: the transfer, then the opening credit from the bank.
        Assert.Equal(2, history.Total);
        var item = history.Items.First();
        Assert.Equal(transfer.Transfer_id, item.Transfer_id);
        Assert.Equal(TransactionItemDirection.Out, item.Direction);
        Assert.Equal(bob.AccountNumber, item.Counterparty_account_number);
        Assert.Equal(2500, item.Amount);
        Assert.Equal(100000, history.Items.Last().Amount);
    }

    /// <summary>Registers a user; the phone is the one sent (the answer masks it).</summary>
    private static async Task<(string Phone, string AccountNumber)> RegisterAsync(TallyClient client, string name)
    {
        var phone = TallyTestKit.NewPhone();
        var registered = await client.RegisterAsync(new RegisterRequest { Phone = phone, Username = name, Password = Password });
        Assert.Equal(100000, registered.Balance);
        Assert.Equal(12, registered.Account_number.Length);
        return (phone, registered.Account_number);
    }
}
