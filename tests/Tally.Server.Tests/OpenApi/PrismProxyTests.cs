using static Tally.Server.Tests.OpenApi.ProxyExchanges;

namespace Tally.Server.Tests.OpenApi;

/// <summary>
/// Traffic covering every operation of the served document, and every error status it documents that a client can
/// provoke, runs through <c>prism proxy</c>: no answer breaks the document, and no request does unless it is
/// invalid on purpose (and then Tally answers the documented problem).
/// </summary>
public sealed class PrismProxyTests(PrismProxiedTally app, ITestOutputHelper output) : IClassFixture<PrismProxiedTally>
{
    private const string Password = "correct horse battery";

    /// <summary>
    /// Statuses that no honest client request can provoke from a healthy instance: an internal error, overload
    /// (503) and a spent request deadline (504). Every other documented status must be met by this suite.
    /// </summary>
    private static readonly HashSet<int> Unprovokable = [500, 503, 504];

    /// <summary>An id that no transfer, user or notification of this short-lived instance reaches.</summary>
    private const long UnknownId = 999_999_999;

    private sealed record User(string Phone, string Username, string AccountNumber, string Session);

    [Fact]
    public async Task EveryOperationAndDocumentedError_ThroughPrism_BreakNothingInTheDocument()
    {
        var operations = DocumentedOperation.ReadAll(app.Document);
        using var proxy = new HttpClient { BaseAddress = app.ProxyAddress, Timeout = TimeSpan.FromSeconds(30) };
        var x = new ProxyExchanges(proxy, operations);

        await HealthAsync(x);
        var (alice, bob, carol) = await AuthAsync(x);
        await AccountAsync(x, alice, bob);
        await TransfersAsync(x, alice, bob, carol);
        await NotificationsAsync(x, alice, bob);
        await AdminAsync(x, alice);
        await LogoutAsync(x);
        // Last: once the registration limit is reached, this address registers no one for a minute.
        await LimitsAsync(x);

        var exchanges = x.All;
        output.WriteLine($"{exchanges.Count} exchanges through prism; violations:");
        foreach (var exchange in exchanges.Where(e => e.Violations.Count > 0))
        {
            output.WriteLine("  " + exchange);
        }

        var badAnswers = exchanges.Where(e => e.ResponseViolations.Any()).ToList();
        Assert.True(badAnswers.Count == 0, $"{badAnswers.Count} answers break the document:\n{string.Join('\n', badAnswers)}");
        var badRequests = exchanges.Where(e => !e.InvalidOnPurpose && e.RequestViolations.Any()).ToList();
        Assert.True(badRequests.Count == 0, $"{badRequests.Count} valid requests break the document:\n{string.Join('\n', badRequests)}");
        var undocumented = exchanges.Where(e => !operations[e.OperationId].Statuses.Contains(e.Status)).ToList();
        Assert.True(undocumented.Count == 0, $"Statuses the document does not list:\n{string.Join('\n', undocumented)}");

        var missedOperations = operations.Keys.Except(exchanges.Select(e => e.OperationId)).Order().ToList();
        Assert.True(missedOperations.Count == 0, $"Operations of the document that the suite never called: {string.Join(", ", missedOperations)}");
        var met = exchanges.Select(e => (e.OperationId, e.Status)).ToHashSet();
        var missedStatuses = operations.Values
            .SelectMany(o => o.Statuses.Where(s => !Unprovokable.Contains(s)).Select(s => (o.Id, Status: s)))
            .Where(os => !met.Contains(os))
            .Select(os => $"{os.Id} {os.Status}")
            .Order()
            .ToList();
        Assert.True(missedStatuses.Count == 0, $"Documented statuses that the suite never provoked: {string.Join(", ", missedStatuses)}");
    }

    [Fact]
    public async Task AnswersThatBreakTheDocument_AreSeenAsResponseViolations()
    {
        var operations = DocumentedOperation.ReadAll(app.Document);
        using var proxy = new HttpClient { BaseAddress = app.TamperedProxyAddress, Timeout = TimeSpan.FromSeconds(30) };
        var x = new ProxyExchanges(proxy, operations);

        await (await x.SendAsync("transferHealth", Request(HttpMethod.Get, "/api/transfer/health"))).AssertJsonAsync();

        await (await x.SendAsync("getMe", Request(HttpMethod.Get, "/api/account/me", session: "not-a-session")))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");

        var health = Assert.Single(x.All, e => e.OperationId == "transferHealth");
        Assert.Contains(health.ResponseViolations, v => v.Message.Contains("no_such_field", StringComparison.Ordinal));
        Assert.Empty(health.RequestViolations);
        var problem = Assert.Single(x.All, e => e.OperationId == "getMe");
        Assert.Contains(problem.ResponseViolations, v => v.Message.Contains("error_code", StringComparison.Ordinal));
        Assert.Empty(problem.RequestViolations);
    }

    private static async Task HealthAsync(ProxyExchanges x)
    {
        foreach (var (id, path, service) in new[]
        {
            ("authHealth", "/api/auth/health", "auth"),
            ("accountHealth", "/api/account/health", "account"),
            ("transferHealth", "/api/transfer/health", "transfer"),
            ("notificationHealth", "/api/notifications/health", "notification"),
        })
        {
            var health = await (await x.SendAsync(id, Request(HttpMethod.Get, path))).AssertJsonAsync();
            Assert.Equal(service, health.Str("service"));
        }
    }

    private static async Task<User> RegisterAndLoginAsync(ProxyExchanges x, string username)
    {
        var phone = TallyTestKit.NewPhone();
        var registered = await (await x.SendAsync("register", Request(HttpMethod.Post, "/api/auth/register", Json(new { phone, username, password = Password })))).AssertJsonAsync();
        Assert.Equal(100000, registered.Long("balance"));
        var login = await (await x.SendAsync("login", Request(HttpMethod.Post, "/api/auth/login", Json(new { phone, password = Password })))).AssertJsonAsync();
        Assert.Equal("bearer", login.Str("token_type"));
        return new User(phone, username, registered.Str("account_number"), login.Str("session"));
    }

    private static async Task<(User Alice, User Bob, User Carol)> AuthAsync(ProxyExchanges x)
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var alice = await RegisterAndLoginAsync(x, "alice-" + tag);
        var bob = await RegisterAndLoginAsync(x, "bob-" + tag);
        var carol = await RegisterAndLoginAsync(x, "carol-" + tag);

        await (await x.SendAsync("login", Request(HttpMethod.Post, "/api/auth/login", Json(new { username = bob.Username, password = Password }))))
            .AssertJsonAsync();
        await (await x.SendAsync("issueToken", Request(HttpMethod.Post, "/api/auth/token", Form(("grant_type", "password"), ("username", carol.Phone), ("password", Password)))))
            .AssertJsonAsync();

        // 400: bad phone, empty username, weak password; 409: a phone taken.
        await (await x.SendInvalidAsync("register", Request(HttpMethod.Post, "/api/auth/register", Json(new { phone = "12ab", username = "x", password = Password }))))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_PHONE");
        await (await x.SendInvalidAsync("register", Request(HttpMethod.Post, "/api/auth/register", Json(new { phone = TallyTestKit.NewPhone(), username = "", password = Password }))))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_USERNAME");
        await (await x.SendInvalidAsync("register", Request(HttpMethod.Post, "/api/auth/register", Json(new { phone = TallyTestKit.NewPhone(), username = "weak", password = "short" }))))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "WEAK_PASSWORD");
        await (await x.SendAsync("register", Request(HttpMethod.Post, "/api/auth/register", Json(new { phone = alice.Phone, username = "again", password = Password }))))
            .AssertProblemAsync(HttpStatusCode.Conflict, "PHONE_EXISTS");

        // 400 without credentials, 401 with wrong ones, and a username that two users share.
        await (await x.SendInvalidAsync("login", Request(HttpMethod.Post, "/api/auth/login", Json(new { password = Password }))))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "MISSING_CREDENTIALS");
        await (await x.SendAsync("login", Request(HttpMethod.Post, "/api/auth/login", Json(new { phone = carol.Phone, password = "not the password" }))))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
        var twin = "twin-" + tag;
        await RegisterAndLoginAsync(x, twin);
        await RegisterAndLoginAsync(x, twin);
        await (await x.SendAsync("login", Request(HttpMethod.Post, "/api/auth/login", Json(new { username = twin, password = Password }))))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "AMBIGUOUS_USERNAME");
        await (await x.SendInvalidAsync("issueToken", Request(HttpMethod.Post, "/api/auth/token", Form(("grant_type", "password"), ("password", Password)))))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "MISSING_CREDENTIALS");
        await (await x.SendAsync("issueToken", Request(HttpMethod.Post, "/api/auth/token", Form(("grant_type", "password"), ("username", carol.Phone), ("password", "not the password")))))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");

        // 413 and 415 on every operation with a body.
        foreach (var (id, path) in new[]
        {
            ("register", "/api/auth/register"), ("login", "/api/auth/login"), ("issueToken", "/api/auth/token"),
            ("createTransfer", "/api/transfer/transfer"), ("confirmTransfer", "/api/transfer/confirm"), ("cancelTransfer", "/api/transfer/cancel"),
        })
        {
            var session = id.Contains("Transfer", StringComparison.Ordinal) ? alice.Session : null;
            var padding = new string('p', 70 * 1024);
            var tooLarge = id == "issueToken"
                ? Form(("grant_type", "password"), ("username", carol.Phone), ("password", Password), ("padding", padding))
                : (HttpContent)Json(new { phone = carol.Phone, password = Password, amount = 1, transfer_id = 1, padding });
            var oversized = Request(HttpMethod.Post, path, tooLarge, session);
            // Tally refuses the body unread and closes the connection; without this header prism's keep-alive agent
            // may reuse that closed socket for the next request ("socket hang up").
            oversized.Headers.ConnectionClose = true;
            await (await x.SendInvalidAsync(id, oversized)).AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
            await (await x.SendInvalidAsync(id, Request(HttpMethod.Post, path, new StringContent("phone=1", System.Text.Encoding.UTF8, "text/plain"), session)))
                .AssertProblemAsync(HttpStatusCode.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE");
        }
        return (alice, bob, carol);
    }

    private static async Task AccountAsync(ProxyExchanges x, User alice, User bob)
    {
        var me = await (await x.SendAsync("getMe", Request(HttpMethod.Get, "/api/account/me", session: alice.Session))).AssertJsonAsync();
        Assert.Equal(alice.Phone, me.Str("phone"));
        var balance = await (await x.SendAsync("getBalance", Request(HttpMethod.Get, "/api/account/balance", session: alice.Session, bearer: true))).AssertJsonAsync();
        Assert.Equal(100000, balance.Long("balance"));
        var found = await (await x.SendAsync("lookupAccount", Request(HttpMethod.Get, $"/api/account/lookup?account_number={bob.AccountNumber}", session: alice.Session))).AssertJsonAsync();
        Assert.Equal(bob.Username, found.Str("username"));
        await (await x.SendAsync("listTransactions", Request(HttpMethod.Get, "/api/account/transactions", session: alice.Session))).AssertJsonAsync();

        await (await x.SendInvalidAsync("lookupAccount", Request(HttpMethod.Get, "/api/account/lookup?account_number=12ab", session: alice.Session)))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_ACCOUNT");
        await (await x.SendAsync("lookupAccount", Request(HttpMethod.Get, $"/api/account/lookup?account_number={UnknownAccount(alice, bob)}", session: alice.Session)))
            .AssertProblemAsync(HttpStatusCode.NotFound, "ACCOUNT_NOT_FOUND");
        await (await x.SendInvalidAsync("listTransactions", Request(HttpMethod.Get, "/api/account/transactions?page=0", session: alice.Session)))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_PAGE");

        // 401: no session (prism sees the missing credentials), and a forged one (prism can't tell: a valid request).
        var forged = TestTokens.Sign(TestTokens.Claims(1, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(1)), System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        foreach (var (id, path) in new[]
        {
            ("getMe", "/api/account/me"), ("getBalance", "/api/account/balance"), ("lookupAccount", $"/api/account/lookup?account_number={bob.AccountNumber}"),
            ("listTransactions", "/api/account/transactions"), ("listNotifications", "/api/notifications/notifications"), ("getTransfer", "/api/transfer/1"),
        })
        {
            await (await x.SendInvalidAsync(id, Request(HttpMethod.Get, path))).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
            await (await x.SendAsync(id, Request(HttpMethod.Get, path, session: forged, bearer: true))).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
        }
        foreach (var (id, path) in new[]
        {
            ("createTransfer", "/api/transfer/transfer"), ("confirmTransfer", "/api/transfer/confirm"), ("cancelTransfer", "/api/transfer/cancel"),
            ("markNotificationRead", "/api/notifications/1/read"), ("logout", "/api/auth/logout"),
        })
        {
            var body = id.Contains("Transfer", StringComparison.Ordinal) ? Json(new { to_account_number = bob.AccountNumber, amount = 1, transfer_id = 1 }) : null;
            await (await x.SendAsync(id, Request(HttpMethod.Post, path, body, session: forged))).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
        }
    }

    private static async Task TransfersAsync(ProxyExchanges x, User alice, User bob, User carol)
    {
        // An instant transfer with an Idempotency-Key, its replay, and the same key with another payload.
        var key = "key-" + Guid.NewGuid().ToString("N");
        async Task<HttpResponseMessage> Keyed(long amount)
        {
            var request = Request(HttpMethod.Post, "/api/transfer/transfer", Json(new { to_account_number = bob.AccountNumber, amount, note = "lunch" }), alice.Session);
            request.Headers.Add("Idempotency-Key", key);
            return await x.SendAsync("createTransfer", request);
        }
        var sent = await (await Keyed(5000)).AssertJsonAsync();
        Assert.Equal("SUCCESS", sent.Str("status"));
        var replay = await Keyed(5000);
        Assert.Equal(sent.Long("transfer_id"), (await replay.AssertJsonAsync()).Long("transfer_id"));
        Assert.Contains("true", replay.Headers.GetValues("Idempotent-Replayed"));
        await (await Keyed(6000)).AssertProblemAsync(HttpStatusCode.Conflict, "DUPLICATE_CLIENT_REF");

        var byUsername = await (await x.SendAsync("createTransfer", Request(HttpMethod.Post, "/api/transfer/transfer", Json(new { to_username = bob.Username, amount = 100 }), alice.Session, bearer: true))).AssertJsonAsync();
        Assert.Equal(bob.AccountNumber, byUsername.Str("to_account_number"));
        await (await x.SendAsync("createTransfer", Request(HttpMethod.Post, "/api/transfer/transfer", Json(new { to_phone = bob.Phone, amount = 100, client_ref = "by-phone" }), alice.Session))).AssertJsonAsync();

        var seen = await (await x.SendAsync("getTransfer", Request(HttpMethod.Get, $"/api/transfer/{sent.Long("transfer_id")}", session: bob.Session))).AssertJsonAsync();
        Assert.Equal(5000, seen.Long("amount"));
        await (await x.SendAsync("getTransfer", Request(HttpMethod.Get, $"/api/transfer/{sent.Long("transfer_id")}", session: carol.Session)))
            .AssertProblemAsync(HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND");

        // Holds: confirm one, cancel one by client_ref; a second resolution conflicts; only the sender resolves.
        var toConfirm = await (await x.SendAsync("createTransfer", Request(HttpMethod.Post, "/api/transfer/transfer", Json(new { to_account_number = bob.AccountNumber, amount = 300, instant = false }), alice.Session))).AssertJsonAsync();
        Assert.Equal("PENDING", toConfirm.Str("status"));
        var toCancel = await (await x.SendAsync("createTransfer", Request(HttpMethod.Post, "/api/transfer/transfer", Json(new { to_account_number = bob.AccountNumber, amount = 200, instant = false, client_ref = "hold-2" }), alice.Session))).AssertJsonAsync();
        await (await x.SendAsync("confirmTransfer", Request(HttpMethod.Post, "/api/transfer/confirm", Json(new { transfer_id = toConfirm.Long("transfer_id") }), bob.Session)))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "NOT_OWNER");
        await (await x.SendAsync("cancelTransfer", Request(HttpMethod.Post, "/api/transfer/cancel", Json(new { transfer_id = toCancel.Long("transfer_id") }), bob.Session)))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "NOT_OWNER");
        Assert.Equal("SUCCESS", (await (await x.SendAsync("confirmTransfer", Request(HttpMethod.Post, "/api/transfer/confirm", Json(new { transfer_id = toConfirm.Long("transfer_id") }), alice.Session))).AssertJsonAsync()).Str("status"));
        Assert.Equal("CANCELLED", (await (await x.SendAsync("cancelTransfer", Request(HttpMethod.Post, "/api/transfer/cancel", Json(new { client_ref = "hold-2" }), alice.Session))).AssertJsonAsync()).Str("status"));
        await (await x.SendAsync("confirmTransfer", Request(HttpMethod.Post, "/api/transfer/confirm", Json(new { transfer_id = toCancel.Long("transfer_id") }), alice.Session)))
            .AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        await (await x.SendAsync("cancelTransfer", Request(HttpMethod.Post, "/api/transfer/cancel", Json(new { transfer_id = toConfirm.Long("transfer_id") }), alice.Session)))
            .AssertProblemAsync(HttpStatusCode.Conflict, "INVALID_STATE");
        foreach (var id in new[] { "confirmTransfer", "cancelTransfer" })
        {
            var path = id == "confirmTransfer" ? "/api/transfer/confirm" : "/api/transfer/cancel";
            await (await x.SendAsync(id, Request(HttpMethod.Post, path, Json(new { transfer_id = UnknownId }), alice.Session)))
                .AssertProblemAsync(HttpStatusCode.NotFound, "TRANSFER_NOT_FOUND");
            await (await x.SendInvalidAsync(id, Request(HttpMethod.Post, path, Json(new { transfer_id = "one" }), alice.Session)))
                .AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_TRANSFER");
        }

        // 400s of a transfer, 404 for an account nobody has.
        foreach (var (body, code, invalid) in new (object Body, string Code, bool Invalid)[]
        {
            (new { to_account_number = bob.AccountNumber, amount = 0 }, "INVALID_AMOUNT", true),
            (new { to_account_number = bob.AccountNumber, amount = "100" }, "INVALID_AMOUNT", true),
            (new { to_account_number = bob.AccountNumber, amount = 1.5 }, "INVALID_AMOUNT", true),
            (new { amount = 100 }, "MISSING_RECIPIENT", false),
            (new { to_account_number = "12ab", amount = 100 }, "INVALID_ACCOUNT", true),
            (new { to_account_number = alice.AccountNumber, amount = 100 }, "SELF_TRANSFER", false),
            (new { to_account_number = bob.AccountNumber, amount = 10_000_000 }, "INSUFFICIENT_FUNDS", false),
            (new { to_account_number = bob.AccountNumber, amount = 100, note = new string('n', 141) }, "INVALID_NOTE", true),
        })
        {
            var request = Request(HttpMethod.Post, "/api/transfer/transfer", Json(body), alice.Session);
            var response = invalid ? await x.SendInvalidAsync("createTransfer", request) : await x.SendAsync("createTransfer", request);
            await response.AssertProblemAsync(HttpStatusCode.BadRequest, code);
        }
        await (await x.SendAsync("createTransfer", Request(HttpMethod.Post, "/api/transfer/transfer", Json(new { to_account_number = UnknownAccount(alice, bob), amount = 100 }), alice.Session)))
            .AssertProblemAsync(HttpStatusCode.NotFound, "ACCOUNT_NOT_FOUND");

        var history = await (await x.SendAsync("listTransactions", Request(HttpMethod.Get, "/api/account/transactions?page=1&size=2", session: alice.Session))).AssertJsonAsync();
        Assert.Equal(2, history.GetProperty("items").GetArrayLength());
    }

    private static async Task NotificationsAsync(ProxyExchanges x, User alice, User bob)
    {
        var notes = await (await x.SendAsync("listNotifications", Request(HttpMethod.Get, "/api/notifications/notifications", session: bob.Session))).AssertJsonAsync();
        Assert.True(notes.GetArrayLength() > 0, notes.ToString());
        var id = notes[0].Long("id");
        var read = await x.SendAsync("markNotificationRead", Request(HttpMethod.Post, $"/api/notifications/{id}/read", session: bob.Session));
        Assert.Equal(HttpStatusCode.NoContent, read.StatusCode);
        await (await x.SendAsync("markNotificationRead", Request(HttpMethod.Post, $"/api/notifications/{id}/read", session: alice.Session)))
            .AssertProblemAsync(HttpStatusCode.NotFound, "NOTIFICATION_NOT_FOUND");
    }

    private async Task AdminAsync(ProxyExchanges x, User alice)
    {
        HttpRequestMessage Admin(string target, string? secret = null)
        {
            var request = Request(HttpMethod.Get, target);
            request.Headers.Add("X-Admin-Secret", secret ?? app.AdminHeaderValue);
            return request;
        }
        var users = await (await x.SendAsync("adminListUsers", Admin("/api/account/admin/users?page=1&size=5&search=alice"))).AssertJsonAsync();
        var id = users.GetProperty("users")[0].Long("id");
        await (await x.SendAsync("adminStats", Admin("/api/account/admin/stats"))).AssertJsonAsync();
        var user = await (await x.SendAsync("adminGetUser", Admin($"/api/account/admin/users/{id}"))).AssertJsonAsync();
        Assert.True(user.GetProperty("transfers").GetArrayLength() > 0, user.ToString());
        await (await x.SendAsync("adminListTransfers", Admin("/api/account/admin/transfers?page=1&size=5"))).AssertJsonAsync();
        await (await x.SendAsync("adminListNotifications", Admin($"/api/account/admin/notifications?page=1&size=5&user_id={id}"))).AssertJsonAsync();
        var audit = await (await x.SendAsync("adminAudit", Admin("/api/account/admin/audit"))).AssertJsonAsync();
        Assert.True(audit.GetProperty("ok").GetBoolean(), audit.ToString());

        await (await x.SendAsync("adminGetUser", Admin($"/api/account/admin/users/{UnknownId}"))).AssertProblemAsync(HttpStatusCode.NotFound, "USER_NOT_FOUND");
        foreach (var (op, path) in new[]
        {
            ("adminStats", "/api/account/admin/stats"), ("adminListUsers", "/api/account/admin/users"), ("adminGetUser", $"/api/account/admin/users/{id}"),
            ("adminListTransfers", "/api/account/admin/transfers"), ("adminListNotifications", "/api/account/admin/notifications"), ("adminAudit", "/api/account/admin/audit"),
        })
        {
            await (await x.SendAsync(op, Admin(path, "not-the-secret"))).AssertProblemAsync(HttpStatusCode.Forbidden, "ADMIN_FORBIDDEN");
            await (await x.SendInvalidAsync(op, Request(HttpMethod.Get, path, session: alice.Session))).AssertProblemAsync(HttpStatusCode.Forbidden, "ADMIN_FORBIDDEN");
        }
        foreach (var (op, path) in new[]
        {
            ("adminListUsers", "/api/account/admin/users"), ("adminListTransfers", "/api/account/admin/transfers"), ("adminListNotifications", "/api/account/admin/notifications"),
        })
        {
            await (await x.SendInvalidAsync(op, Admin(path + "?size=101"))).AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_PAGE");
        }
    }

    /// <summary>The 429s: registrations per address, logins and token requests per phone.</summary>
    private static async Task LimitsAsync(ProxyExchanges x)
    {
        var phone = TallyTestKit.NewPhone();
        await (await x.SendAsync("register", Request(HttpMethod.Post, "/api/auth/register", Json(new { phone, username = "limited", password = Password })))).AssertJsonAsync();
        await UntilTooManyAsync(PrismProxiedTally.LoginsPerPhonePerMinute, () =>
            x.SendAsync("login", Request(HttpMethod.Post, "/api/auth/login", Json(new { phone, password = "not the password" }))));
        await UntilTooManyAsync(PrismProxiedTally.LoginsPerPhonePerMinute, () =>
            x.SendAsync("issueToken", Request(HttpMethod.Post, "/api/auth/token", Form(("grant_type", "password"), ("username", phone), ("password", "not the password")))));
        await UntilTooManyAsync(PrismProxiedTally.RegistrationsPerMinute, () =>
            x.SendAsync("register", Request(HttpMethod.Post, "/api/auth/register", Json(new { phone = TallyTestKit.NewPhone(), username = "filler", password = Password }))));
    }

    /// <summary>Sends until a 429 comes; the limits count in fixed one-minute windows, so allow for one window turning.</summary>
    private static async Task UntilTooManyAsync(int limit, Func<Task<HttpResponseMessage>> send)
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i <= 2 * limit + 1; i++)
        {
            var response = await send();
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                await response.AssertProblemAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_ATTEMPTS");
                return;
            }
        }
        Assert.Fail($"No 429 after {statuses.Count} requests: {string.Join(", ", statuses.Select(s => (int)s))}");
    }

    private static async Task LogoutAsync(ProxyExchanges x)
    {
        var phone = TallyTestKit.NewPhone();
        await x.SendAsync("register", Request(HttpMethod.Post, "/api/auth/register", Json(new { phone, username = "leaving", password = Password })));
        var token = await (await x.SendAsync("issueToken", Request(HttpMethod.Post, "/api/auth/token", Form(("grant_type", "password"), ("username", phone), ("password", Password))))).AssertJsonAsync();
        var session = token.Str("access_token");
        var logout = await x.SendAsync("logout", Request(HttpMethod.Post, "/api/auth/logout", session: session, bearer: true));
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        await (await x.SendAsync("getMe", Request(HttpMethod.Get, "/api/account/me", session: session, bearer: true))).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
        await (await x.SendAsync("logout", Request(HttpMethod.Post, "/api/auth/logout", session: session, bearer: true))).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
        await (await x.SendInvalidAsync("logout", Request(HttpMethod.Post, "/api/auth/logout"))).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    private static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));

    /// <summary>A well-formed account number that is neither of these users' (account numbers are random, so one more check).</summary>
    private static string UnknownAccount(User a, User b)
    {
        var candidate = "000000000001";
        return candidate == a.AccountNumber || candidate == b.AccountNumber ? "000000000002" : candidate;
    }
}
