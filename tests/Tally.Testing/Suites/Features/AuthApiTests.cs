namespace Tally.Testing.Suites.Features;

public abstract class AuthApiTests<TApp>(TApp factory) : IClassFixture<TApp>
    where TApp : TallyTestHost, ITallyMode
{
    private const string Password = "correct horse battery";

    private async Task<HttpResponseMessage> RegisterAsync(object body)
    {
        using var client = factory.CreateClient();
        return await client.PostAsJsonAsync("/api/auth/register", body);
    }

    private async Task<HttpResponseMessage> LoginAsync(object body)
    {
        using var client = factory.CreateClient();
        return await client.PostAsJsonAsync("/api/auth/login", body);
    }

    [Fact]
    public async Task Register_WithValidDetails_ReturnsUserWithMaskedPhoneAndOpeningBalance()
    {
        var phone = TallyTestKit.NewPhone();

        var body = await RegisterAsync(new { phone, username = "Alice", password = Password }).AssertJsonAsync();

        Assert.True(body.Long("id") > 0);
        Assert.Equal(string.Concat(phone.AsSpan(0, 2), new string('*', phone.Length - 4), phone.AsSpan(phone.Length - 2)), body.Str("phone"));
        Assert.Equal("Alice", body.Str("username"));
        Assert.Matches("^[0-9]{12}$", body.Str("account_number"));
        Assert.Equal(100000, body.Long("balance"));
    }

    [Fact]
    public async Task Register_IgnoresUnknownFieldsSuchAsBalance()
    {
        using var client = factory.CreateClient();
        var phone = TallyTestKit.NewPhone();

        var response = await client.PostAsync("/api/auth/register", TallyTestKit.JsonBody($$"""{"phone":"{{phone}}","username":"Greedy","password":"{{Password}}","balance":999999999,"is_admin":true,"id":424242}"""));
        var body = await response.AssertJsonAsync();

        Assert.Equal(100000, body.Long("balance"));
        Assert.NotEqual(424242, body.Long("id"));
        await factory.AssertAuditOkAsync();
    }

    [Fact]
    public async Task Register_TrimsTheUsername()
    {
        var body = await RegisterAsync(new { phone = TallyTestKit.NewPhone(), username = "   Bob  ", password = Password }).AssertJsonAsync();

        Assert.Equal("Bob", body.Str("username"));
    }

    [Fact]
    public async Task Register_GivesEachUserADistinctAccountNumber()
    {
        var first = await RegisterAsync(new { phone = TallyTestKit.NewPhone(), username = "Twin", password = Password }).AssertJsonAsync();
        var second = await RegisterAsync(new { phone = TallyTestKit.NewPhone(), username = "Twin", password = Password }).AssertJsonAsync();

        Assert.NotEqual(first.Long("id"), second.Long("id"));
        Assert.NotEqual(first.Str("account_number"), second.Str("account_number"));
    }

    [Fact]
    public async Task Register_AcceptsPhonesOfEightAndFifteenDigits()
    {
        var eight = "3" + TallyTestKit.NewPhone()[^7..];
        var fifteen = "4444" + TallyTestKit.NewPhone();

        await RegisterAsync(new { phone = eight, username = "Short", password = Password }).AssertJsonAsync();
        await RegisterAsync(new { phone = fifteen, username = "Long", password = Password }).AssertJsonAsync();
    }

    [Theory]
    [InlineData("phone", "\"1234567\"", "INVALID_PHONE")]
    [InlineData("phone", "\"1234567890123456\"", "INVALID_PHONE")]
    [InlineData("phone", "\"12345abc\"", "INVALID_PHONE")]
    [InlineData("phone", "\"+1234567890\"", "INVALID_PHONE")]
    [InlineData("phone", "\"\"", "INVALID_PHONE")]
    [InlineData("phone", "12345678", "INVALID_PHONE")]
    [InlineData("phone", "null", "INVALID_PHONE")]
    [InlineData("username", "\"\"", "INVALID_USERNAME")]
    [InlineData("username", "\"    \"", "INVALID_USERNAME")]
    [InlineData("username", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "INVALID_USERNAME")]
    [InlineData("username", "42", "INVALID_USERNAME")]
    [InlineData("username", "null", "INVALID_USERNAME")]
    [InlineData("password", "\"short\"", "WEAK_PASSWORD")]
    [InlineData("password", "\"1234567\"", "WEAK_PASSWORD")]
    [InlineData("password", "\"\"", "WEAK_PASSWORD")]
    [InlineData("password", "12345678", "WEAK_PASSWORD")]
    [InlineData("password", "null", "WEAK_PASSWORD")]
    public async Task Register_WithInvalidField_IsRejected(string field, string valueJson, string errorCode)
    {
        var fields = new Dictionary<string, string>
        {
            ["phone"] = $"\"{TallyTestKit.NewPhone()}\"",
            ["username"] = "\"Carol\"",
            ["password"] = $"\"{Password}\"",
        };
        fields[field] = valueJson;
        using var client = factory.CreateClient();

        var body = TallyTestKit.JsonBody("{" + string.Join(',', fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}");

        await client.PostAsync("/api/auth/register", body).AssertProblemAsync(HttpStatusCode.BadRequest, errorCode);
    }

    [Fact]
    public async Task Register_WithoutPhone_IsRejected()
    {
        await RegisterAsync(new { username = "Carol", password = Password }).AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_PHONE");
    }

    [Fact]
    public async Task Register_AcceptsAUsernameOfFiftyCharacters()
    {
        var name = new string('n', 50);

        var body = await RegisterAsync(new { phone = TallyTestKit.NewPhone(), username = name, password = Password }).AssertJsonAsync();

        Assert.Equal(name, body.Str("username"));
    }

    [Fact]
    public async Task Register_WithPasswordOver128Characters_IsRejected()
    {
        await RegisterAsync(new { phone = TallyTestKit.NewPhone(), username = "Dave", password = new string('p', 129) })
            .AssertProblemAsync(HttpStatusCode.BadRequest, "WEAK_PASSWORD");
    }

    [Fact]
    public async Task Register_AcceptsPasswordsOfEightAnd128Characters()
    {
        await RegisterAsync(new { phone = TallyTestKit.NewPhone(), username = "Min", password = "12345678" }).AssertJsonAsync();
        await RegisterAsync(new { phone = TallyTestKit.NewPhone(), username = "Max", password = new string('p', 128) }).AssertJsonAsync();
    }

    [Fact]
    public async Task Register_WithTakenPhone_IsConflict()
    {
        var user = await factory.RegisterAndLoginAsync();

        await RegisterAsync(new { phone = user.Phone, username = "Impostor", password = Password }).AssertProblemAsync(HttpStatusCode.Conflict, "PHONE_EXISTS");
    }

    [Fact]
    public async Task Login_WithPhone_ReturnsBearerSession()
    {
        var user = await factory.RegisterAndLoginAsync("Erin");

        var body = await LoginAsync(new { phone = user.Phone, password = user.Password }).AssertJsonAsync();

        Assert.False(string.IsNullOrWhiteSpace(body.Str("session")));
        Assert.Equal("bearer", body.Str("token_type"));
        Assert.InRange(body.Long("expires_in"), 1, 24 * 3600);
        Assert.Equal(string.Concat(user.Phone.AsSpan(0, 2), new string('*', user.Phone.Length - 4), user.Phone.AsSpan(user.Phone.Length - 2)), body.Str("phone"));
        Assert.Equal("Erin", body.Str("username"));
        Assert.Equal(user.AccountNumber, body.Str("account_number"));
        Assert.Equal(100000, body.Long("balance"));
    }

    [Fact]
    public async Task Login_SessionWorksAsXSessionAndAsBearer()
    {
        var user = await factory.RegisterAndLoginAsync();

        using var viaHeader = factory.CreateClient();
        viaHeader.DefaultRequestHeaders.Add("X-Session", user.Session);
        using var viaBearer = factory.CreateClient(user);

        Assert.Equal(user.Id, (await viaHeader.GetAsync("/api/account/me").AssertJsonAsync()).Long("id"));
        Assert.Equal(user.Id, (await viaBearer.GetAsync("/api/account/me").AssertJsonAsync()).Long("id"));
    }

    [Fact]
    public async Task Login_WithUniqueUsername_Succeeds()
    {
        var name = "solo-" + Guid.NewGuid().ToString("N")[..8];
        var user = await factory.RegisterAndLoginAsync(name);

        var body = await LoginAsync(new { username = name, password = user.Password }).AssertJsonAsync();

        Assert.Equal(user.AccountNumber, body.Str("account_number"));
    }

    [Fact]
    public async Task Login_WithPhoneAndUsername_UsesThePhone()
    {
        var user = await factory.RegisterAndLoginAsync("phone-wins-" + Guid.NewGuid().ToString("N")[..6]);
        var other = await factory.RegisterAndLoginAsync("other-" + Guid.NewGuid().ToString("N")[..6]);

        var body = await LoginAsync(new { phone = user.Phone, username = other.Username, password = user.Password }).AssertJsonAsync();

        Assert.Equal(user.AccountNumber, body.Str("account_number"));
    }

    [Fact]
    public async Task Login_WithUsernameSharedByTwoUsers_IsAmbiguous()
    {
        var name = "shared-" + Guid.NewGuid().ToString("N")[..8];
        var user = await factory.RegisterAndLoginAsync(name);
        await factory.RegisterAndLoginAsync(name);

        await LoginAsync(new { username = name, password = user.Password }).AssertProblemAsync(HttpStatusCode.Unauthorized, "AMBIGUOUS_USERNAME");
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"password":"correct horse battery"}""")]
    [InlineData("""{"phone":"70000000001"}""")]
    [InlineData("""{"username":"someone"}""")]
    [InlineData("""{"phone":"","username":"","password":"correct horse battery"}""")]
    public async Task Login_WithMissingCredentials_IsRejected(string json)
    {
        using var client = factory.CreateClient();
        await client.PostAsync("/api/auth/login", TallyTestKit.JsonBody(json)).AssertProblemAsync(HttpStatusCode.BadRequest, "MISSING_CREDENTIALS");
    }

    [Fact]
    public async Task Login_WithWrongPassword_IsUnauthorized()
    {
        var user = await factory.RegisterAndLoginAsync();

        await LoginAsync(new { phone = user.Phone, password = "not the password" }).AssertProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
    }

    [Fact]
    public async Task Login_WithUnknownPhone_IsUnauthorized()
    {
        await LoginAsync(new { phone = TallyTestKit.NewPhone(), password = Password }).AssertProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
    }

    [Fact]
    public async Task Login_WithUnknownUsername_IsUnauthorized()
    {
        await LoginAsync(new { username = "nobody-" + Guid.NewGuid().ToString("N"), password = Password })
            .AssertProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
    }

    [Fact]
    public async Task Login_WithUniqueUsernameAndWrongPassword_IsUnauthorized()
    {
        var name = "solo-" + Guid.NewGuid().ToString("N")[..8];
        await factory.RegisterAndLoginAsync(name);

        await LoginAsync(new { username = name, password = "not the password" }).AssertProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
    }

    [Fact]
    public async Task Login_BeyondThePerPhoneLimit_IsTooManyAttempts()
    {
        using var limited = TApp.WithSettings(("Auth:LoginPermitsPerPhonePerMinute", "3"));
        var user = await limited.RegisterAndLoginAsync();
        using var client = limited.CreateClient();

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? last = null;
        for (var i = 0; i < 6; i++)
        {
            last?.Dispose();
            last = await client.PostAsJsonAsync("/api/auth/login", new { phone = user.Phone, password = "not the password" });
            statuses.Add(last.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, statuses[0]);
        await last!.AssertProblemAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_ATTEMPTS");
        // The right password is refused too while the phone is locked out: guessing gains nothing.
        var correct = await client.PostAsJsonAsync("/api/auth/login", new { phone = user.Phone, password = user.Password });
        await correct.AssertProblemAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_ATTEMPTS");
        // Another phone is not affected by this phone's limit (the helper asserts its login succeeds).
        await limited.RegisterAndLoginAsync();
    }

    [Fact]
    public async Task Login_BeyondThePerIpLimit_IsTooManyAttempts()
    {
        using var limited = TApp.WithSettings(("Auth:LoginPermitsPerIpPerMinute", "3"));
        using var client = limited.CreateClient();

        HttpResponseMessage? last = null;
        for (var i = 0; i < 6; i++)
        {
            last?.Dispose();
            last = await client.PostAsJsonAsync("/api/auth/login", new { phone = TallyTestKit.NewPhone(), password = Password });
        }

        await last!.AssertProblemAsync(HttpStatusCode.TooManyRequests, "TOO_MANY_ATTEMPTS");
    }

    [Fact]
    public async Task Token_WithFormCredentials_ReturnsAccessToken()
    {
        var user = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient();

        var response = await client.PostAsync("/api/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = user.Phone,
            ["password"] = user.Password,
        }));
        var body = await response.AssertJsonAsync();

        Assert.Equal("bearer", body.Str("token_type"));
        Assert.InRange(body.Long("expires_in"), 1, 24 * 3600);
        using var authorized = factory.CreateClient();
        authorized.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", body.Str("access_token"));
        Assert.Equal(user.Id, (await authorized.GetAsync("/api/account/me").AssertJsonAsync()).Long("id"));
    }

    [Fact]
    public async Task Token_WithWrongPassword_IsUnauthorized()
    {
        var user = await factory.RegisterAndLoginAsync();
        using var client = factory.CreateClient();

        var response = await client.PostAsync("/api/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["username"] = user.Phone,
            ["password"] = "not the password",
        }));

        await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "INVALID_CREDENTIALS");
    }

    [Fact]
    public async Task Token_WithMissingFields_IsRejected()
    {
        using var client = factory.CreateClient();

        var response = await client.PostAsync("/api/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
        }));

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "MISSING_CREDENTIALS");
    }

    [Fact]
    public async Task Logout_RevokesTheSession()
    {
        using var client = await factory.CreateNewUserClientAsync();

        var logout = await client.PostAsync("/api/auth/logout", null);

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        await client.GetAsync("/api/account/me").AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
        await client.PostAsync("/api/auth/logout", null).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task Logout_LeavesOtherSessionsOfTheUserValid()
    {
        var user = await factory.RegisterAndLoginAsync();
        var second = await LoginAsync(new { phone = user.Phone, password = user.Password }).AssertJsonAsync();
        using var first = factory.CreateClient(user);
        using var other = factory.CreateClient(user with { Session = second.Str("session") });

        Assert.Equal(HttpStatusCode.NoContent, (await first.PostAsync("/api/auth/logout", null)).StatusCode);

        Assert.Equal(user.Id, (await other.GetAsync("/api/account/me").AssertJsonAsync()).Long("id"));
    }

    [Fact]
    public async Task Logout_WithoutSession_IsUnauthorized()
    {
        using var client = factory.CreateClient();

        await client.PostAsync("/api/auth/logout", null).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task Session_AfterItsLifetime_IsUnauthorized()
    {
        using var shortLived = TApp.WithSettings(("Auth:TokenLifetime", "00:00:02"));
        using var client = await shortLived.CreateNewUserClientAsync();
        await client.GetAsync("/api/account/me").AssertJsonAsync();

        var expired = await TallyTestKit.PollAsync(async () =>
        {
            var response = await client.GetAsync("/api/account/me");
            return response.StatusCode == HttpStatusCode.Unauthorized ? response : null;
        }, TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(250));

        Assert.NotNull(expired);
        await expired.AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task Session_SignedWithAnotherKey_IsUnauthorized()
    {
        var user = await factory.RegisterAndLoginAsync();
        var now = DateTimeOffset.UtcNow;
        var forged = TestTokens.Sign(TestTokens.Claims(user.Id, now, now.AddHours(1)), Convert.FromBase64String(TestTokens.NewKeyBase64()));
        using var client = factory.CreateClient(user with { Session = forged });

        await client.GetAsync("/api/account/me").AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task Session_WithAlgNone_IsUnauthorized()
    {
        var user = await factory.RegisterAndLoginAsync();
        var now = DateTimeOffset.UtcNow;
        using var client = factory.CreateClient(user with { Session = TestTokens.Unsigned(TestTokens.Claims(user.Id, now, now.AddHours(1))) });

        await client.GetAsync("/api/account/me").AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task Session_SignedWithTheServerKeyButExpired_IsUnauthorized()
    {
        var key = TestTokens.NewKeyBase64();
        using var keyed = TApp.WithSettings(("Auth:SigningKey", key));
        var user = await keyed.RegisterAndLoginAsync();
        var now = DateTimeOffset.UtcNow;
        var valid = TestTokens.Sign(TestTokens.Claims(user.Id, now.AddMinutes(-1), now.AddHours(1)), Convert.FromBase64String(key));
        var expired = TestTokens.Sign(TestTokens.Claims(user.Id, now.AddHours(-2), now.AddHours(-1)), Convert.FromBase64String(key));

        using var validClient = keyed.CreateClient(user with { Session = valid });
        using var expiredClient = keyed.CreateClient(user with { Session = expired });

        // The hand-made token is accepted when current, so the refusal below is about expiry alone.
        Assert.Equal(user.Id, (await validClient.GetAsync("/api/account/me").AssertJsonAsync()).Long("id"));
        await expiredClient.GetAsync("/api/account/me").AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task Register_ResponseNeverContainsThePasswordOrItsHash()
    {
        var phone = TallyTestKit.NewPhone();
        var response = await RegisterAsync(new { phone, username = "Secretive", password = "a-very-distinct-password" });
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("a-very-distinct-password", text, StringComparison.Ordinal);
        Assert.DoesNotContain("password", text, StringComparison.OrdinalIgnoreCase);
        using var document = JsonDocument.Parse(text);
        Assert.Equal(5, document.RootElement.EnumerateObject().Count());
    }
}
