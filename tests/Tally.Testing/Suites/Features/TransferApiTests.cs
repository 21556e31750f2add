namespace Tally.Testing.Suites.Features;

public abstract class TransferApiTests<TApp>(TApp factory) : IClassFixture<TApp>
    where TApp : TallyTestHost, ITallyMode
{
    private static string UniqueName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private static DateTimeOffset Time(JsonElement element, string property) =>
        DateTimeOffset.Parse(element.Str(property), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    [Fact]
    public async Task Transfer_ByAccountNumber_MovesTheMoneyAtOnce()
    {
        using var pair = await factory.RegisterPairAsync("Alice", "Bob");
        var (_, bob, client) = pair;
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);

        var transfer = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 5000, note = "rent" });

        Assert.True(transfer.GetProperty("ok").GetBoolean());
        Assert.True(transfer.Long("transfer_id") > 0);
        Assert.Equal("SUCCESS", transfer.Str("status"));
        Assert.Equal("Alice", transfer.Str("from"));
        Assert.Equal("Bob", transfer.Str("to"));
        Assert.Equal(bob.AccountNumber, transfer.Str("to_account_number"));
        Assert.Equal(5000, transfer.Long("amount"));
        Assert.Equal("rent", transfer.Str("note"));
        Assert.True(transfer.IsNull("client_ref"));
        Assert.True(transfer.IsNull("hold_until"));
        Assert.InRange(Time(transfer, "created_at"), before, DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal((95000L, 95000L), await client.GetBalanceAsync());
        Assert.Equal((105000L, 105000L), await factory.GetBalanceAsync(bob));
        await factory.AssertAuditOkAsync();
    }

    [Fact]
    public async Task Transfer_IgnoresUnknownFieldsSuchAsASourceAccount()
    {
        using var pair = await factory.RegisterPairAsync();
        var (alice, bob, client) = pair;
        var carol = await factory.RegisterAndLoginAsync();

        var response = await client.PostAsync("/api/transfer/transfer", TallyTestKit.JsonBody(
            $$"""{"to_account_number":"{{bob.AccountNumber}}","amount":500,"from_account_number":"{{carol.AccountNumber}}","from_user_id":{{carol.Id}},"status":"EXPIRED"}"""));
        var transfer = await response.AssertJsonAsync();

        Assert.Equal(alice.Username, transfer.Str("from"));
        Assert.Equal("SUCCESS", transfer.Str("status"));
        Assert.Equal(99500, (await client.GetBalanceAsync()).Balance);
        Assert.Equal((100000L, 100000L), await factory.GetBalanceAsync(carol));
    }

    [Fact]
    public async Task Transfer_ByUniqueUsername_ReachesThatUser()
    {
        var bobName = UniqueName("bob");
        using var pair = await factory.RegisterPairAsync(bobName: bobName);
        var (_, bob, client) = pair;

        var transfer = await client.TransferOkAsync(new { to_username = bobName, amount = 10 });

        Assert.Equal(bob.AccountNumber, transfer.Str("to_account_number"));
        Assert.Equal(bobName, transfer.Str("to"));
        Assert.Equal(100010, (await factory.GetBalanceAsync(bob)).Balance);
    }

    [Fact]
    public async Task Transfer_ByPhone_ReachesThatUser()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;

        var transfer = await client.TransferOkAsync(new { to_phone = bob.Phone, amount = 11 });

        Assert.Equal(bob.AccountNumber, transfer.Str("to_account_number"));
        Assert.Equal(100011, (await factory.GetBalanceAsync(bob)).Balance);
    }

    [Fact]
    public async Task Transfer_OfTheWholeBalance_LeavesZero()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;

        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 100000, instant = true });

        Assert.Equal((0L, 0L), await client.GetBalanceAsync());
        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 1 })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INSUFFICIENT_FUNDS");
    }

    [Fact]
    public async Task Transfer_WithNoteOf140Characters_IsAccepted()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var note = new string('x', 140);

        var transfer = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 1, note });

        Assert.Equal(note, transfer.Str("note"));
    }

    [Fact]
    public async Task Transfer_WithoutSession_IsUnauthorized()
    {
        var bob = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient();

        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 1 })
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
        Assert.Equal(100000, (await factory.GetBalanceAsync(bob)).Balance);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("-100000")]
    [InlineData("1.5")]
    [InlineData("100.25")]
    [InlineData("\"100\"")]
    [InlineData("9223372036854775808")]
    [InlineData("-9223372036854775809")]
    [InlineData("1e30")]
    [InlineData("1000000000001")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("[100]")]
    [InlineData("{\"value\":100}")]
    public async Task Transfer_WithInvalidAmount_IsRejected(string amountJson)
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;

        await client.PostAsync("/api/transfer/transfer", TallyTestKit.JsonBody($$"""{"to_account_number":"{{bob.AccountNumber}}","amount":{{amountJson}}}"""))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_AMOUNT");
        Assert.Equal((100000L, 100000L), await client.GetBalanceAsync());
    }

    [Fact]
    public async Task Transfer_WithoutAmount_IsRejected()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;

        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_AMOUNT");
    }

    [Fact]
    public async Task Transfer_AboveTheConfiguredMaximum_IsRejected()
    {
        using var app = TApp.WithSettings(("Transfers:MaxAmount", "1000"));
        using var pair = await app.RegisterPairAsync();
        var (_, bob, client) = pair;

        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 1000 });
        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 1001 })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_AMOUNT");
        Assert.Equal(99000, (await client.GetBalanceAsync()).Balance);
    }

    [Theory]
    [InlineData("""{"amount":100}""", "MISSING_RECIPIENT")]
    [InlineData("""{"amount":100,"to_account_number":null,"to_username":null,"to_phone":null}""", "MISSING_RECIPIENT")]
    [InlineData("""{"amount":100,"note":"to nobody"}""", "MISSING_RECIPIENT")]
    [InlineData("""{"to_account_number":"123","amount":100}""", "INVALID_ACCOUNT")]
    [InlineData("""{"to_account_number":"12345678901","amount":100}""", "INVALID_ACCOUNT")]
    [InlineData("""{"to_account_number":"1234567890123","amount":100}""", "INVALID_ACCOUNT")]
    [InlineData("""{"to_account_number":"abcdefghijkl","amount":100}""", "INVALID_ACCOUNT")]
    [InlineData("""{"to_account_number":"12345 789012","amount":100}""", "INVALID_ACCOUNT")]
    public async Task Transfer_WithoutAWellFormedRecipient_IsRejected(string json, string errorCode)
    {
        using var client = await factory.CreateNewUserClientAsync();

        await client.PostAsync("/api/transfer/transfer", TallyTestKit.JsonBody(json)).AssertProblemAsync(HttpStatusCode.BadRequest, errorCode);
    }

    [Fact]
    public async Task Transfer_ToUnknownAccount_IsNotFound()
    {
        var alice = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient(alice);
        var unknown = alice.AccountNumber == "999999999999" ? "999999999998" : "999999999999";

        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = unknown, amount = 100 })
            .AssertProblemAsync(HttpStatusCode.NotFound, "ACCOUNT_NOT_FOUND");
        Assert.Equal((100000L, 100000L), await client.GetBalanceAsync());
    }

    [Fact]
    public async Task Transfer_ToUnknownUsername_IsNotFound()
    {
        using var client = await factory.CreateNewUserClientAsync();

        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_username = UniqueName("ghost"), amount = 100 })
            .AssertProblemAsync(HttpStatusCode.NotFound, "ACCOUNT_NOT_FOUND");
    }

    [Fact]
    public async Task Transfer_ToUnknownPhone_IsNotFound()
    {
        using var client = await factory.CreateNewUserClientAsync();

        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_phone = TallyTestKit.NewPhone(), amount = 100 })
            .AssertProblemAsync(HttpStatusCode.NotFound, "ACCOUNT_NOT_FOUND");
    }

    [Fact]
    public async Task Transfer_ToUsernameSharedByTwoUsers_IsAmbiguous()
    {
        var shared = UniqueName("twin");
        await factory.RegisterAndLoginAsync(shared);
        await factory.RegisterAndLoginAsync(shared);
        using var client = await factory.CreateNewUserClientAsync();

        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_username = shared, amount = 100 })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "AMBIGUOUS_USERNAME");
        Assert.Equal((100000L, 100000L), await client.GetBalanceAsync());
    }

    [Fact]
    public async Task Transfer_ToSelf_IsRejected()
    {
        var name = UniqueName("narcissus");
        var alice = await factory.RegisterAndLoginAsync(name);
        using var client = factory.CreateClient(alice);

        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = alice.AccountNumber, amount = 100 })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "SELF_TRANSFER");
        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_phone = alice.Phone, amount = 100 })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "SELF_TRANSFER");
        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_username = name, amount = 100 })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "SELF_TRANSFER");
        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = alice.AccountNumber, amount = 100, instant = false })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "SELF_TRANSFER");
        Assert.Equal((100000L, 100000L), await client.GetBalanceAsync());
    }

    [Fact]
    public async Task Transfer_BeyondTheBalance_IsInsufficientFunds()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;

        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 100001 })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INSUFFICIENT_FUNDS");
        Assert.Equal((100000L, 100000L), await client.GetBalanceAsync());
        Assert.Equal((100000L, 100000L), await factory.GetBalanceAsync(bob));
    }

    [Theory]
    [InlineData("note", "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", "INVALID_NOTE")]
    [InlineData("note", "\"bell\\u0007\"", "INVALID_NOTE")]
    [InlineData("note", "\"nul\\u0000\"", "INVALID_NOTE")]
    [InlineData("note", "42", "INVALID_NOTE")]
    [InlineData("note", "{\"text\":\"hi\"}", "INVALID_NOTE")]
    [InlineData("client_ref", "\"\"", "INVALID_CLIENT_REF")]
    [InlineData("client_ref", "\"rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr\"", "INVALID_CLIENT_REF")]
    [InlineData("client_ref", "\"tab\\tref\"", "INVALID_CLIENT_REF")]
    [InlineData("client_ref", "17", "INVALID_CLIENT_REF")]
    public async Task Transfer_WithInvalidOptionalField_IsRejected(string field, string valueJson, string errorCode)
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;

        var response = await client.PostAsync("/api/transfer/transfer", TallyTestKit.JsonBody($$"""{"to_account_number":"{{bob.AccountNumber}}","amount":100,"{{field}}":{{valueJson}}}"""));

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, errorCode);
        Assert.Equal((100000L, 100000L), await client.GetBalanceAsync());
    }

    [Fact]
    public async Task Transfer_WithIdempotencyKeyOver64Characters_IsRejected()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
        {
            Content = JsonContent.Create(new { to_account_number = bob.AccountNumber, amount = 100 }),
        };
        request.Headers.Add("Idempotency-Key", new string('k', 65));

        await client.SendAsync(request).AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_CLIENT_REF");
    }

    [Fact]
    public async Task Transfer_RepeatedWithSameIdempotencyKey_ReplaysAndMovesMoneyOnce()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var key = Guid.NewGuid().ToString("N");

        async Task<HttpResponseMessage> SendAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
            {
                Content = JsonContent.Create(new { to_account_number = bob.AccountNumber, amount = 2500 }),
            };
            request.Headers.Add("Idempotency-Key", key);
            return await client.SendAsync(request);
        }

        var first = await SendAsync();
        var firstBody = await first.AssertJsonAsync();
        var replay = await SendAsync();
        var replayBody = await replay.AssertJsonAsync();

        Assert.False(first.Headers.TryGetValues("Idempotent-Replayed", out var firstReplayed) && firstReplayed.Contains("true"));
        Assert.Equal("true", Assert.Single(replay.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(firstBody.Long("transfer_id"), replayBody.Long("transfer_id"));
        Assert.Equal(key, replayBody.Str("client_ref"));
        Assert.Equal("SUCCESS", replayBody.Str("status"));
        Assert.Equal(97500, (await client.GetBalanceAsync()).Balance);
        Assert.Equal(102500, (await factory.GetBalanceAsync(bob)).Balance);
    }

    [Fact]
    public async Task Transfer_RepeatedWithSameClientRef_ReplaysAndMovesMoneyOnce()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var body = new { to_account_number = bob.AccountNumber, amount = 600, note = "once", client_ref = "order-42" };

        var first = await client.TransferOkAsync(body);
        var replay = await client.PostAsJsonAsync("/api/transfer/transfer", body);
        var replayBody = await replay.AssertJsonAsync();

        Assert.Equal("true", Assert.Single(replay.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(first.Long("transfer_id"), replayBody.Long("transfer_id"));
        Assert.Equal("order-42", replayBody.Str("client_ref"));
        Assert.Equal(99400, (await client.GetBalanceAsync()).Balance);
    }

    [Fact]
    public async Task Transfer_ReusingClientRefWithDifferentPayload_IsConflict()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var carol = await factory.RegisterAndLoginAsync();
        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 600, client_ref = "invoice-7" });

        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 601, client_ref = "invoice-7" })
            .AssertProblemAsync(HttpStatusCode.Conflict, "DUPLICATE_CLIENT_REF");
        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = carol.AccountNumber, amount = 600, client_ref = "invoice-7" })
            .AssertProblemAsync(HttpStatusCode.Conflict, "DUPLICATE_CLIENT_REF");

        Assert.Equal(99400, (await client.GetBalanceAsync()).Balance);
        Assert.Equal(100000, (await factory.GetBalanceAsync(carol)).Balance);
    }

    [Fact]
    public async Task Transfer_SameClientRefFromTwoSenders_AreSeparateTransfers()
    {
        using var pair = await factory.RegisterPairAsync();
        var (alice, bob, aliceClient, bobClient) = pair;

        var fromAlice = await aliceClient.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 5, client_ref = "shared-ref" });
        var fromBob = await bobClient.TransferOkAsync(new { to_account_number = alice.AccountNumber, amount = 7, client_ref = "shared-ref" });

        Assert.NotEqual(fromAlice.Long("transfer_id"), fromBob.Long("transfer_id"));
        Assert.Equal(100002, (await aliceClient.GetBalanceAsync()).Balance);
    }

    [Fact]
    public async Task Hold_LowersAvailableButNotBalance()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;

        var hold = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 30000, instant = false });

        Assert.Equal("PENDING", hold.Str("status"));
        Assert.InRange(Time(hold, "hold_until"), DateTimeOffset.UtcNow.AddSeconds(240), DateTimeOffset.UtcNow.AddSeconds(360));
        Assert.Equal((100000L, 70000L), await client.GetBalanceAsync());
        Assert.Equal((100000L, 100000L), await factory.GetBalanceAsync(bob));
        var audit = await factory.AssertAuditOkAsync();
        Assert.True(audit.Long("pending_holds") >= 30000);
    }

    [Fact]
    public async Task Hold_ReservesFundsAgainstLaterTransfers()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 60000, instant = false });

        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 50000 })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INSUFFICIENT_FUNDS");
        await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 40001, instant = false })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INSUFFICIENT_FUNDS");
        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 40000 });

        Assert.Equal((60000L, 0L), await client.GetBalanceAsync());
    }

    [Fact]
    public async Task Hold_Confirmed_MovesTheMoney()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var hold = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 30000, instant = false });

        var confirmed = await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = hold.Long("transfer_id") }).AssertJsonAsync();

        Assert.Equal(hold.Long("transfer_id"), confirmed.Long("transfer_id"));
        Assert.Equal("SUCCESS", confirmed.Str("status"));
        Assert.Equal(30000, confirmed.Long("amount"));
        Assert.Equal((70000L, 70000L), await client.GetBalanceAsync());
        Assert.Equal((130000L, 130000L), await factory.GetBalanceAsync(bob));
        await factory.AssertAuditOkAsync();
    }

    [Fact]
    public async Task Hold_Cancelled_ReleasesTheFunds()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var hold = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 30000, instant = false });

        var cancelled = await client.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = hold.Long("transfer_id") }).AssertJsonAsync();

        Assert.Equal(hold.Long("transfer_id"), cancelled.Long("transfer_id"));
        Assert.Equal("CANCELLED", cancelled.Str("status"));
        Assert.Equal((100000L, 100000L), await client.GetBalanceAsync());
        Assert.Equal((100000L, 100000L), await factory.GetBalanceAsync(bob));
        await factory.AssertAuditOkAsync();
    }

    [Fact]
    public async Task Hold_ConfirmedByClientRef_MovesTheMoney()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var hold = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 100, instant = false, client_ref = "hold-confirm" });

        var confirmed = await client.PostAsJsonAsync("/api/transfer/confirm", new { client_ref = "hold-confirm" }).AssertJsonAsync();

        Assert.Equal(hold.Long("transfer_id"), confirmed.Long("transfer_id"));
        Assert.Equal("SUCCESS", confirmed.Str("status"));
        Assert.Equal(100100, (await factory.GetBalanceAsync(bob)).Balance);
    }

    [Fact]
    public async Task Hold_CancelledByClientRef_ReleasesTheFunds()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var hold = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 100, instant = false, client_ref = "hold-cancel" });

        var cancelled = await client.PostAsJsonAsync("/api/transfer/cancel", new { client_ref = "hold-cancel" }).AssertJsonAsync();

        Assert.Equal(hold.Long("transfer_id"), cancelled.Long("transfer_id"));
        Assert.Equal("CANCELLED", cancelled.Str("status"));
        Assert.Equal((100000L, 100000L), await client.GetBalanceAsync());
    }

    [Fact]
    public async Task Hold_ResolvesOnlyOnce()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var confirmedHold = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 100, instant = false });
        var cancelledHold = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 200, instant = false });
        await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = confirmedHold.Long("transfer_id") }).AssertJsonAsync();
        await client.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = cancelledHold.Long("transfer_id") }).AssertJsonAsync();

        await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = confirmedHold.Long("transfer_id") })
            .AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        await client.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = confirmedHold.Long("transfer_id") })
            .AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = cancelledHold.Long("transfer_id") })
            .AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        await client.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = cancelledHold.Long("transfer_id") })
            .AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");

        Assert.Equal((99900L, 99900L), await client.GetBalanceAsync());
        Assert.Equal(100100, (await factory.GetBalanceAsync(bob)).Balance);
    }

    [Fact]
    public async Task Confirm_OfAnInstantTransfer_IsInvalidState()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var transfer = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 100 });

        await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = transfer.Long("transfer_id") })
            .AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        await client.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = transfer.Long("transfer_id") })
            .AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        Assert.Equal(99900, (await client.GetBalanceAsync()).Balance);
    }

    [Theory]
    [InlineData("confirm")]
    [InlineData("cancel")]
    public async Task Resolve_ByTheReceiver_IsNotOwner(string action)
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var hold = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 100, instant = false });
        using var bobClient = factory.CreateClient(bob);

        await bobClient.PostAsJsonAsync($"/api/transfer/{action}", new { transfer_id = hold.Long("transfer_id") })
            .AssertProblemAsync(HttpStatusCode.Forbidden, "NOT_OWNER");
        Assert.Equal((100000L, 99900L), await client.GetBalanceAsync());
        Assert.Equal((100000L, 100000L), await bobClient.GetBalanceAsync());
    }

    [Theory]
    [InlineData("confirm")]
    [InlineData("cancel")]
    public async Task Resolve_ByAStranger_IsNotFound(string action)
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var hold = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 100, instant = false, client_ref = "stranger-" + action });
        using var malloryClient = await factory.CreateNewUserClientAsync();

        await malloryClient.PostAsJsonAsync($"/api/transfer/{action}", new { transfer_id = hold.Long("transfer_id") })
            .AssertProblemAsync(HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND");
        await malloryClient.PostAsJsonAsync($"/api/transfer/{action}", new { client_ref = "stranger-" + action })
            .AssertProblemAsync(HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND");
        Assert.Equal((100000L, 99900L), await client.GetBalanceAsync());
    }

    [Theory]
    [InlineData("confirm", """{"transfer_id":999999999}""", HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND")]
    [InlineData("cancel", """{"transfer_id":999999999}""", HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND")]
    [InlineData("confirm", """{"client_ref":"never-used"}""", HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND")]
    [InlineData("cancel", """{"client_ref":"never-used"}""", HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND")]
    [InlineData("confirm", "{}", HttpStatusCode.BadRequest, "INVALID_TRANSFER")]
    [InlineData("cancel", "{}", HttpStatusCode.BadRequest, "INVALID_TRANSFER")]
    [InlineData("confirm", """{"transfer_id":null,"client_ref":null}""", HttpStatusCode.BadRequest, "INVALID_TRANSFER")]
    [InlineData("confirm", """{"transfer_id":0}""", HttpStatusCode.BadRequest, "INVALID_TRANSFER")]
    [InlineData("cancel", """{"transfer_id":-5}""", HttpStatusCode.BadRequest, "INVALID_TRANSFER")]
    [InlineData("confirm", """{"transfer_id":"abc"}""", HttpStatusCode.BadRequest, "INVALID_TRANSFER")]
    [InlineData("cancel", """{"transfer_id":1.5}""", HttpStatusCode.BadRequest, "INVALID_TRANSFER")]
    [InlineData("confirm", """{"transfer_id":true}""", HttpStatusCode.BadRequest, "INVALID_TRANSFER")]
    public async Task Resolve_WithoutAKnownValidReference_IsRejected(string action, string json, HttpStatusCode status, string errorCode)
    {
        using var client = await factory.CreateNewUserClientAsync();

        await client.PostAsync($"/api/transfer/{action}", TallyTestKit.JsonBody(json)).AssertProblemAsync(status, errorCode);
    }

    [Theory]
    [InlineData("GET", "/api/transfer/1", null)]
    [InlineData("POST", "/api/transfer/confirm", """{"transfer_id":1}""")]
    [InlineData("POST", "/api/transfer/cancel", """{"transfer_id":1}""")]
    public async Task TransferEndpoints_WithoutSession_AreUnauthorized(string method, string path, string? json)
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = json is null ? null : TallyTestKit.JsonBody(json) };

        await client.SendAsync(request).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task Hold_Unresolved_ExpiresByItselfAndReleasesTheFunds()
    {
        using var app = TApp.WithSettings(("Transfers:HoldSeconds", "1"), ("Transfers:ExpirySweepInterval", "00:00:00.200"));
        using var pair = await app.RegisterPairAsync();
        var (_, bob, client) = pair;
        var hold = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 45000, instant = false });
        var id = hold.Long("transfer_id");
        Assert.Equal("PENDING", hold.Str("status"));
        Assert.InRange(Time(hold, "hold_until"), DateTimeOffset.UtcNow.AddSeconds(-5), DateTimeOffset.UtcNow.AddSeconds(5));

        var expired = await TallyTestKit.PollAsync<string>(async () =>
        {
            var transfer = await client.GetAsync($"/api/transfer/{id}").AssertJsonAsync();
            return transfer.Str("status") == "EXPIRED" ? "EXPIRED" : null;
        }, TimeSpan.FromSeconds(10));

        Assert.Equal("EXPIRED", expired);
        Assert.Equal((100000L, 100000L), await client.GetBalanceAsync());
        Assert.Equal((100000L, 100000L), await app.GetBalanceAsync(bob));
        await client.PostAsJsonAsync("/api/transfer/confirm", new { transfer_id = id })
            .AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        await client.PostAsJsonAsync("/api/transfer/cancel", new { transfer_id = id })
            .AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        var audit = await app.AssertAuditOkAsync();
        Assert.Equal(0, audit.Long("pending_holds"));
    }

    [Fact]
    public async Task GetTransfer_IsVisibleToSenderAndReceiver()
    {
        using var pair = await factory.RegisterPairAsync();
        var (alice, bob, client, bobClient) = pair;
        var transfer = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 321, note = "seen" });
        var id = transfer.Long("transfer_id");

        var bySender = await client.GetAsync($"/api/transfer/{id}").AssertJsonAsync();
        var byReceiver = await bobClient.GetAsync($"/api/transfer/{id}").AssertJsonAsync();

        foreach (var seen in new[] { bySender, byReceiver })
        {
            Assert.Equal(id, seen.Long("transfer_id"));
            Assert.Equal("SUCCESS", seen.Str("status"));
            Assert.Equal(alice.Username, seen.Str("from"));
            Assert.Equal(bob.Username, seen.Str("to"));
            Assert.Equal(bob.AccountNumber, seen.Str("to_account_number"));
            Assert.Equal(321, seen.Long("amount"));
            Assert.Equal("seen", seen.Str("note"));
        }
    }

    [Fact]
    public async Task GetTransfer_ByAStranger_IsNotFound()
    {
        using var pair = await factory.RegisterPairAsync();
        var (_, bob, client) = pair;
        var transfer = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 1 });
        using var malloryClient = await factory.CreateNewUserClientAsync();

        await malloryClient.GetAsync($"/api/transfer/{transfer.Long("transfer_id")}").AssertProblemAsync(HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND");
    }

    [Fact]
    public async Task GetTransfer_Unknown_IsNotFound()
    {
        using var client = await factory.CreateNewUserClientAsync();

        await client.GetAsync("/api/transfer/987654321").AssertProblemAsync(HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND");
    }
}
