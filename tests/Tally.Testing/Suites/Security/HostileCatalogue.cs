namespace Tally.Testing.Suites.Security;

/// <summary>Bad requests, each named; every one must get a 4xx problem and move no money.</summary>
public static class HostileCatalogue
{
    /// <summary>Injection, traversal and Unicode tricks, used in every string field where they are not a valid value.</summary>
    public static readonly IReadOnlyList<(string Label, string Value)> HostileStrings =
    [
        ("sql-or", "' OR 1=1 --"),
        ("sql-drop", "'; DROP TABLE users; --"),
        ("sql-quote", "\" OR \"\"=\""),
        ("script", "<script>alert(1)</script>"),
        ("traversal", "../../etc/passwd"),
        ("rtl-override", "\u202Egnp.exe"),
        ("zero-width", "zero\u200Bwidth\u200D"),
        ("emoji", "💸🏦🔥"),
        ("nul", "nul\u0000byte"),
        ("template", "{{7*7}}${jndi:ldap://x/a}"),
        ("crlf", "%00%0d%0aSet-Cookie: x=1"),
        ("bobby", "Robert'); --"),
    ];

    public static readonly IReadOnlyDictionary<string, Func<HostileFixture, HttpRequestMessage>> Cases = Build();

    private static Dictionary<string, Func<HostileFixture, HttpRequestMessage>> Build()
    {
        var cases = new Dictionary<string, Func<HostileFixture, HttpRequestMessage>>(StringComparer.Ordinal);
        void Add(string name, Func<HostileFixture, HttpRequestMessage> build) => cases.Add(name, build);

        // Amounts: wrong types, floats, strings, zero, negatives, overflow, above the maximum and above the balance.
        string[] amounts =
        [
            "0", "-1", "-0", "-9223372036854775808", "1.5", "0.01", "\"100\"", "\"abc\"", "\"\"", "9223372036854775808",
            "99999999999999999999999", "1e30", "-1e30", "1000000000001", "100001", "null", "true", "false", "[]", "{}", "[1,2]",
        ];
        foreach (var amount in amounts)
        {
            Add($"transfer.amount={amount}", f => Post("/api/transfer/transfer", Raw($$"""{"to_account_number":"{{f.VictimB.AccountNumber}}","amount":{{amount}}}"""), f.Attacker.Session));
            Add($"hold.amount={amount}", f => Post("/api/transfer/transfer", Raw($$"""{"to_account_number":"{{f.VictimB.AccountNumber}}","amount":{{amount}},"instant":false}"""), f.Attacker.Session));
        }
        Add("transfer.amount=NaN", f => Post("/api/transfer/transfer", Raw($$"""{"to_account_number":"{{f.VictimB.AccountNumber}}","amount":NaN}"""), f.Attacker.Session));
        Add("transfer.amount=Infinity", f => Post("/api/transfer/transfer", Raw($$"""{"to_account_number":"{{f.VictimB.AccountNumber}}","amount":Infinity}"""), f.Attacker.Session));
        Add("transfer.amount=missing", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber }), f.Attacker.Session));

        // Bodies: missing, malformed, of the wrong shape or media type, or too large, on every JSON endpoint.
        (string Path, bool Authed)[] jsonEndpoints =
        [
            ("/api/auth/register", false),
            ("/api/auth/login", false),
            ("/api/transfer/transfer", true),
            ("/api/transfer/confirm", true),
            ("/api/transfer/cancel", true),
        ];
        foreach (var (path, authed) in jsonEndpoints)
        {
            string? Session(HostileFixture f) => authed ? f.Attacker.Session : null;
            Add($"{path}:no-body", f => Post(path, null, Session(f)));
            Add($"{path}:empty-body", f => Post(path, Raw(""), Session(f)));
            Add($"{path}:truncated-json", f => Post(path, Raw("{"), Session(f)));
            Add($"{path}:missing-value", f => Post(path, Raw("""{"amount": }"""), Session(f)));
            Add($"{path}:trailing-comma", f => Post(path, Raw("""{"amount":1,}"""), Session(f)));
            Add($"{path}:not-json", f => Post(path, Raw("not json at all"), Session(f)));
            Add($"{path}:json-array", f => Post(path, Raw("[]"), Session(f)));
            Add($"{path}:json-null", f => Post(path, Raw("null"), Session(f)));
            Add($"{path}:json-string", f => Post(path, Raw("\"hello\""), Session(f)));
            Add($"{path}:json-number", f => Post(path, Raw("42"), Session(f)));
            Add($"{path}:text-plain", f => Post(path, Raw("{}", "text/plain"), Session(f)));
            Add($"{path}:xml", f => Post(path, Raw("<transfer><amount>1</amount></transfer>", "application/xml"), Session(f)));
            Add($"{path}:form", f => Post(path, new FormUrlEncodedContent(new Dictionary<string, string> { ["amount"] = "1" }), Session(f)));
            Add($"{path}:1MiB", f => Post(path, Raw("{\"note\":\"" + new string('x', 1024 * 1024) + "\"}"), Session(f)));
            Add($"{path}:bad-utf8", f => Post(path, Bytes([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D]), Session(f)));
        }

        // Hostile strings in every string field where they are not a valid value.
        foreach (var (label, value) in HostileStrings)
        {
            var quoted = JsonSerializer.Serialize(value);
            var escaped = Uri.EscapeDataString(value);
            Add($"register.phone[{label}]", _ => Post("/api/auth/register", Raw($$"""{"phone":{{quoted}},"username":"hostile","password":"correct horse battery"}""")));
            Add($"login.phone[{label}]", _ => Post("/api/auth/login", Raw($$"""{"phone":{{quoted}},"password":"correct horse battery"}""")));
            Add($"login.username[{label}]", _ => Post("/api/auth/login", Raw($$"""{"username":{{quoted}},"password":"correct horse battery"}""")));
            Add($"login.password[{label}]", f => Post("/api/auth/login", Raw($$"""{"phone":"{{f.VictimA.Phone}}","password":{{quoted}}}""")));
            Add($"token.username[{label}]", _ => Post("/api/auth/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = value, ["password"] = "correct horse battery" })));
            Add($"lookup.account_number[{label}]", f => Get("/api/account/lookup?account_number=" + escaped, f.Attacker.Session));
            Add($"transfer.to_account_number[{label}]", f => Post("/api/transfer/transfer", Raw($$"""{"to_account_number":{{quoted}},"amount":100}"""), f.Attacker.Session));
            Add($"transfer.to_username[{label}]", f => Post("/api/transfer/transfer", Raw($$"""{"to_username":{{quoted}},"amount":100}"""), f.Attacker.Session));
            Add($"transfer.to_phone[{label}]", f => Post("/api/transfer/transfer", Raw($$"""{"to_phone":{{quoted}},"amount":100}"""), f.Attacker.Session));
            Add($"confirm.client_ref[{label}]", f => Post("/api/transfer/confirm", Raw($$"""{"client_ref":{{quoted}}}"""), f.Attacker.Session));
            Add($"cancel.transfer_id[{label}]", f => Post("/api/transfer/cancel", Raw($$"""{"transfer_id":{{quoted}}}"""), f.Attacker.Session));
            // A NUL in a path never reaches the app: Kestrel refuses it, and TestServer throws before sending.
            if (!value.Contains('\0', StringComparison.Ordinal))
            {
                Add($"get-transfer.path[{label}]", f => Get("/api/transfer/" + escaped, f.Attacker.Session));
                Add($"read-notification.path[{label}]", f => Post($"/api/notifications/{escaped}/read", null, f.Attacker.Session));
                Add($"admin-user.path[{label}]", _ => Admin("/api/account/admin/users/" + escaped));
            }
            Add($"transactions.page[{label}]", f => Get("/api/account/transactions?page=" + escaped, f.Attacker.Session));
            Add($"admin-notifications.size[{label}]", _ => Admin("/api/account/admin/notifications?size=" + escaped));
        }
        Add("register.username[nul]", _ => Post("/api/auth/register", Json(new { phone = TallyTestKit.NewPhone(), username = "nul\u0000byte", password = "correct horse battery" })));
        Add("login.username[nul-padded]", _ => Post("/api/auth/login", Json(new { username = " nul\u0000 ", password = "correct horse battery" })));
        Add("admin-users.search[nul]", _ => Admin("/api/account/admin/users?search=nul%00byte"));
        Add("admin-users.search[escape]", _ => Admin("/api/account/admin/users?search=%1B%5B31m"));
        Add("register.username[bell]", _ => Post("/api/auth/register", Json(new { phone = TallyTestKit.NewPhone(), username = "bell\u0007", password = "correct horse battery" })));
        Add("register.username[newline]", _ => Post("/api/auth/register", Json(new { phone = TallyTestKit.NewPhone(), username = "line\nbreak", password = "correct horse battery" })));
        Add("transfer.note[nul]", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1, note = "nul\u0000byte" }), f.Attacker.Session));
        Add("transfer.note[escape]", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1, note = "\u001b[31mred" }), f.Attacker.Session));
        Add("transfer.note[141]", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1, note = new string('n', 141) }), f.Attacker.Session));
        Add("transfer.note[10k]", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1, note = new string('n', 10_000) }), f.Attacker.Session));
        Add("transfer.client_ref[nul]", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1, client_ref = "nul\u0000byte" }), f.Attacker.Session));
        Add("transfer.client_ref[65]", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1, client_ref = new string('r', 65) }), f.Attacker.Session));
        Add("transfer.client_ref[empty]", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1, client_ref = "" }), f.Attacker.Session));
        Add("transfer.idempotency-key[65]", f => WithHeader(Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1 }), f.Attacker.Session), "Idempotency-Key", new string('k', 65)));

        // Phone, username and password of the wrong type or shape.
        string[] phones = ["123", "true", "[]", "{}", "\"１２３４５６７８\"", "\"٠١٢٣٤٥٦٧٨٩\"", "\" 12345678\"", "\"12345678\\n\"", "\"1234567\"", "\"1234567890123456\"", "\"-12345678\"", "\"1e10\""];
        foreach (var phone in phones)
        {
            Add($"register.phone={phone}", _ => Post("/api/auth/register", Raw($$"""{"phone":{{phone}},"username":"hostile","password":"correct horse battery"}""")));
        }
        string[] usernames = ["\"\"", "\"   \"", "\"\\t\\n\"", "null", "42", "[\"a\"]", JsonSerializer.Serialize(new string('u', 51))];
        foreach (var username in usernames)
        {
            Add($"register.username={username}", _ => Post("/api/auth/register", Raw($$"""{"phone":"{{TallyTestKit.NewPhone()}}","username":{{username}},"password":"correct horse battery"}""")));
        }
        string[] passwords = ["\"short\"", "\"\"", "null", "12345678", "[\"correct horse battery\"]", JsonSerializer.Serialize(new string('p', 129))];
        foreach (var password in passwords)
        {
            Add($"register.password={password}", _ => Post("/api/auth/register", Raw($$"""{"phone":"{{TallyTestKit.NewPhone()}}","username":"hostile","password":{{password}}}""")));
        }
        Add("register.phone-taken", f => Post("/api/auth/register", Json(new { phone = f.VictimA.Phone, username = "victim-a", password = "attacker's own password" })));
        Add("login.victim-wrong-password", f => Post("/api/auth/login", Json(new { phone = f.VictimA.Phone, password = "guess guess guess" })));
        Add("login.victim-by-username-wrong-password", _ => Post("/api/auth/login", Json(new { username = "victim-a", password = "guess guess guess" })));
        Add("login.password-as-object", f => Post("/api/auth/login", Raw($$$"""{"phone":"{{{f.VictimA.Phone}}}","password":{"$ne":null}}""")));
        Add("login.password-as-true", f => Post("/api/auth/login", Raw($$"""{"phone":"{{f.VictimA.Phone}}","password":true}""")));
        Add("token.victim-wrong-password", f => Post("/api/auth/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = f.VictimA.Phone, ["password"] = "guess guess guess" })));
        Add("token.no-fields", _ => Post("/api/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>())));

        // Recipients that are not a user: the bank, oneself, nobody.
        Add("transfer.to-bank-account", f => Post("/api/transfer/transfer", Json(new { to_account_number = "000000000000", amount = 1 }), f.Attacker.Session));
        Add("transfer.to-bank-username", f => Post("/api/transfer/transfer", Json(new { to_username = "Tally Bank", amount = 1 }), f.Attacker.Session));
        Add("transfer.to-self", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.Attacker.AccountNumber, amount = 1 }), f.Attacker.Session));
        Add("transfer.to-self-by-phone", f => Post("/api/transfer/transfer", Json(new { to_phone = f.Attacker.Phone, amount = 1 }), f.Attacker.Session));
        Add("transfer.no-recipient", f => Post("/api/transfer/transfer", Json(new { amount = 1 }), f.Attacker.Session));
        Add("transfer.recipient-as-number", f => Post("/api/transfer/transfer", Raw("""{"to_account_number":123456789012,"amount":1}"""), f.Attacker.Session));
        Add("transfer.duplicate-client-ref", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 11, client_ref = HostileFixture.AttackerRef }), f.Attacker.Session));
        Add("transfer.duplicate-idempotency-key", f => WithHeader(Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimA.AccountNumber, amount = 10 }), f.Attacker.Session), "Idempotency-Key", HostileFixture.AttackerRef));

        // Someone else's transfer and notification.
        Add("get-transfer.others-settled", f => Get($"/api/transfer/{f.SettledTransferId}", f.Attacker.Session));
        Add("get-transfer.others-pending", f => Get($"/api/transfer/{f.PendingTransferId}", f.Attacker.Session));
        Add("confirm.others-by-id", f => Post("/api/transfer/confirm", Json(new { transfer_id = f.PendingTransferId }), f.Attacker.Session));
        Add("cancel.others-by-id", f => Post("/api/transfer/cancel", Json(new { transfer_id = f.PendingTransferId }), f.Attacker.Session));
        Add("confirm.others-by-client-ref", f => Post("/api/transfer/confirm", Json(new { client_ref = HostileFixture.VictimHoldRef }), f.Attacker.Session));
        Add("cancel.others-by-client-ref", f => Post("/api/transfer/cancel", Json(new { client_ref = HostileFixture.VictimHoldRef }), f.Attacker.Session));
        Add("confirm.others-id-as-string", f => Post("/api/transfer/confirm", Raw($$"""{"transfer_id":"{{f.PendingTransferId}}"}"""), f.Attacker.Session));
        Add("confirm.by-receiver", f => Post("/api/transfer/confirm", Json(new { transfer_id = f.PendingTransferId }), f.VictimB.Session));
        Add("cancel.by-receiver", f => Post("/api/transfer/cancel", Json(new { transfer_id = f.PendingTransferId }), f.VictimB.Session));
        Add("confirm.settled-by-sender", f => Post("/api/transfer/confirm", Json(new { transfer_id = f.SettledTransferId }), f.VictimA.Session));
        Add("cancel.settled-by-sender", f => Post("/api/transfer/cancel", Json(new { transfer_id = f.SettledTransferId }), f.VictimA.Session));
        Add("read-notification.others", f => Post($"/api/notifications/{f.VictimNotificationId}/read", null, f.Attacker.Session));

        // Negative, zero and overflowing ids.
        Add("get-transfer.id=-1", f => Get("/api/transfer/-1", f.Attacker.Session));
        Add("get-transfer.id=0", f => Get("/api/transfer/0", f.Attacker.Session));
        Add("get-transfer.id=overflow", f => Get("/api/transfer/99999999999999999999", f.Attacker.Session));
        Add("get-transfer.id=1.5", f => Get("/api/transfer/1.5", f.Attacker.Session));
        Add("admin-user.id=-1", _ => Admin("/api/account/admin/users/-1"));
        Add("admin-user.id=0", _ => Admin("/api/account/admin/users/0"));
        Add("admin-user.id=overflow", _ => Admin("/api/account/admin/users/99999999999999999999"));
        Add("read-notification.id=-1", f => Post("/api/notifications/-1/read", null, f.Attacker.Session));
        Add("read-notification.id=0", f => Post("/api/notifications/0/read", null, f.Attacker.Session));
        Add("read-notification.id=overflow", f => Post("/api/notifications/99999999999999999999/read", null, f.Attacker.Session));
        Add("confirm.transfer_id=-1", f => Post("/api/transfer/confirm", Raw("""{"transfer_id":-1}"""), f.Attacker.Session));
        Add("confirm.transfer_id=overflow", f => Post("/api/transfer/confirm", Raw("""{"transfer_id":9223372036854775808}"""), f.Attacker.Session));
        Add("cancel.transfer_id=1e30", f => Post("/api/transfer/cancel", Raw("""{"transfer_id":1e30}"""), f.Attacker.Session));
        Add("cancel.transfer_id=array", f => Post("/api/transfer/cancel", Raw("""{"transfer_id":[1]}"""), f.Attacker.Session));

        // Huge, negative and malformed paging.
        string[] pagings = ["page=99999999999", "size=1000000", "page=-1", "size=-5", "page=1e3", "size=0", "page=0x10", "size=10.5", "page=%00", "size=2147483648"];
        foreach (var paging in pagings)
        {
            Add($"transactions?{paging}", f => Get("/api/account/transactions?" + paging, f.Attacker.Session));
            Add($"admin-users?{paging}", _ => Admin("/api/account/admin/users?" + paging));
        }
        Add("admin-transfers?page=-1", _ => Admin("/api/account/admin/transfers?page=-1"));
        Add("admin-transfers?size=999999", _ => Admin("/api/account/admin/transfers?size=999999"));
        Add("admin-notifications?size=99999999999", _ => Admin("/api/account/admin/notifications?size=99999999999"));

        // Forged, expired, revoked and garbage credentials, each trying to move money.
        Add("token.other-key-as-victim", f => Post("/api/transfer/transfer", StealBody(f), Forged(f)));
        Add("token.alg-none-as-victim", f => Post("/api/transfer/transfer", StealBody(f), TestTokens.Unsigned(VictimClaims(f))));
        Add("token.alg-none-uppercase", f => Post("/api/transfer/transfer", StealBody(f), TestTokens.Segment(new { alg = "NONE", typ = "JWT" }) + "." + TestTokens.Segment(VictimClaims(f)) + "."));
        Add("token.alg-none-with-real-signature", f => Post("/api/transfer/transfer", StealBody(f), AlgNoneKeepingSignature(f)));
        Add("token.rs256-header-hmac-signed", f => Post("/api/transfer/transfer", StealBody(f), TestTokens.Sign(VictimClaims(f), Convert.FromBase64String(f.SigningKey), new { alg = "RS256", typ = "JWT" })));
        Add("token.expired-server-key", f => Post("/api/transfer/transfer", StealBody(f), TestTokens.Sign(TestTokens.Claims(f.VictimA.Id, DateTimeOffset.UtcNow.AddHours(-3), DateTimeOffset.UtcNow.AddHours(-2)), Convert.FromBase64String(f.SigningKey))));
        Add("token.not-yet-valid-server-key", f => Post("/api/transfer/transfer", StealBody(f), TestTokens.Sign(TestTokens.Claims(f.VictimA.Id, DateTimeOffset.UtcNow.AddHours(2), DateTimeOffset.UtcNow.AddHours(3)), Convert.FromBase64String(f.SigningKey))));
        Add("token.wrong-issuer-server-key", f => Post("/api/transfer/transfer", StealBody(f), TestTokens.Sign(TestTokens.Claims(f.VictimA.Id, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(1), issuer: "evil"), Convert.FromBase64String(f.SigningKey))));
        Add("token.wrong-audience-server-key", f => Post("/api/transfer/transfer", StealBody(f), TestTokens.Sign(TestTokens.Claims(f.VictimA.Id, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(1), audience: "evil"), Convert.FromBase64String(f.SigningKey))));
        Add("token.tampered-sub", f => Post("/api/transfer/transfer", StealBody(f), TamperedSub(f)));
        Add("token.truncated-signature", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1 }), f.Attacker.Session[..^4]));
        Add("token.revoked", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1 }), f.RevokedSession));
        Add("token.revoked-via-x-session", f => WithHeader(Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1 })), "X-Session", f.RevokedSession));
        Add("token.revoked-on-logout", f => Post("/api/auth/logout", null, f.RevokedSession));
        Add("token.forged-on-logout", f => Post("/api/auth/logout", null, Forged(f)));
        Add("token.forged-on-me", f => Get("/api/account/me", Forged(f)));
        Add("token.forged-via-x-session", f => WithHeader(Post("/api/transfer/transfer", StealBody(f)), "X-Session", Forged(f)));
        Add("token.alg-none-via-x-session", f => WithHeader(Post("/api/transfer/transfer", StealBody(f)), "X-Session", TestTokens.Unsigned(VictimClaims(f))));
        string[] garbageAuthorizations =
        [
            "Bearer", "Bearer ", "Bearer garbage", "Bearer a.b.c", "Bearer ..", "Basic dXNlcjpwYXNzd29yZA==", "Bearer null",
            "Bearer " + new string('a', 8192), "Bearer eyJhbGciOiJIUzI1NiJ9", "Digest username=\"victim\"",
        ];
        foreach (var authorization in garbageAuthorizations)
        {
            Add($"authorization[{(authorization.Length > 40 ? authorization[..20] + "…" + authorization.Length : authorization)}]", f =>
            {
                var request = Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1 }));
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
                return request;
            });
        }
        string[] garbageSessions = ["garbage", "null", "undefined", "' OR 1=1 --", "../../etc/passwd", "eyJ.eyJ.sig"];
        foreach (var session in garbageSessions)
        {
            Add($"x-session[{session}]", f => WithHeader(Get("/api/account/me"), "X-Session", session));
        }
        Add("me.no-credentials", _ => Get("/api/account/me"));
        Add("balance.no-credentials", _ => Get("/api/account/balance"));
        Add("notifications.no-credentials", _ => Get("/api/notifications/notifications"));
        Add("transfer.no-credentials", f => Post("/api/transfer/transfer", Json(new { to_account_number = f.VictimB.AccountNumber, amount = 1 })));

        // Admin with the wrong secret, or with a user's session instead.
        string[] secrets = ["", "wrong", " " + TallyTestKit.AdminSecret, TallyTestKit.AdminSecret.ToUpperInvariant(), TallyTestKit.AdminSecret[..^1], TallyTestKit.AdminSecret + "x"];
        foreach (var secret in secrets)
        {
            Add($"admin.secret[{secret}]", _ =>
            {
                var request = Get("/api/account/admin/audit");
                request.Headers.TryAddWithoutValidation("X-Admin-Secret", secret);
                return request;
            });
        }
        Add("admin.user-session", f => Get("/api/account/admin/users", f.Attacker.Session));
        return cases;
    }

    private static object VictimClaims(HostileFixture f) => TestTokens.Claims(f.VictimA.Id, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));

    private static string Forged(HostileFixture f) => TestTokens.Sign(VictimClaims(f), Convert.FromBase64String(TestTokens.NewKeyBase64()));

    /// <summary>The attacker's real token with its header switched to alg none, signature kept.</summary>
    private static string AlgNoneKeepingSignature(HostileFixture f)
    {
        var parts = f.Attacker.Session.Split('.');
        return TestTokens.Segment(new { alg = "none", typ = "JWT" }) + "." + parts[1] + "." + parts[2];
    }

    /// <summary>The attacker's real token with its subject switched to the victim, signature kept.</summary>
    private static string TamperedSub(HostileFixture f)
    {
        var parts = f.Attacker.Session.Split('.');
        var payload = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]))!;
        payload["sub"] = JsonSerializer.SerializeToElement(f.VictimA.Id.ToString(CultureInfo.InvariantCulture));
        return parts[0] + "." + TestTokens.Segment(payload) + "." + parts[2];
    }

    /// <summary>A transfer that, sent under the victim's identity, would move the victim's money to the attacker.</summary>
    private static JsonContent StealBody(HostileFixture f) => Json(new { to_account_number = f.Attacker.AccountNumber, amount = 5000 });

    private static JsonContent Json(object body) => JsonContent.Create(body);

    private static StringContent Raw(string body, string mediaType = "application/json") => new(body, Encoding.UTF8, mediaType);

    private static ByteArrayContent Bytes(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    private static HttpRequestMessage Get(string path, string? session = null) => Authorize(new HttpRequestMessage(HttpMethod.Get, path), session);

    private static HttpRequestMessage Post(string path, HttpContent? content, string? session = null) =>
        Authorize(new HttpRequestMessage(HttpMethod.Post, path) { Content = content }, session);

    private static HttpRequestMessage Admin(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Admin-Secret", TallyTestKit.AdminSecret);
        return request;
    }

    private static HttpRequestMessage Authorize(HttpRequestMessage request, string? session)
    {
        if (session is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + session);
        }
        return request;
    }

    private static HttpRequestMessage WithHeader(HttpRequestMessage request, string name, string value)
    {
        request.Headers.TryAddWithoutValidation(name, value);
        return request;
    }
}
