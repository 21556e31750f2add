namespace Tally.Testing;

/// <summary>
/// The calls that tests of a <see cref="TallyTestHost"/> make over and over: register and log in, clients with a
/// session or the admin secret, JSON and problem assertions over the HTTP contract of shared/API.md, balances and
/// the audit, and polling.
/// </summary>
public static class TallyTestKit
{
    public const string Password = "correct horse battery";

    /// <summary>The admin secret of the hosts of the shared suites, in every mode.</summary>
    public const string AdminSecret = "test-admin-secret";

    public const string ProblemContentType = "application/problem+json";

    private static int s_phone = Random.Shared.Next(1_000_000);

    public static string NewPhone() => "7" + Interlocked.Increment(ref s_phone).ToString("D10", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Registers a new user and logs in; fails the test if either step does not succeed.</summary>
    public static async Task<TallyUser> RegisterAndLoginAsync(this TallyTestHost host, string? username = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        using var client = host.CreateClient();
        var phone = NewPhone();
        var name = username ?? "user" + phone[^6..];
        var registered = await (await client.PostAsJsonAsync("/api/auth/register", new { phone, username = name, password = Password })).AssertJsonAsync();
        var session = await host.LoginAsync(phone, Password);
        return new TallyUser(registered.Long("id"), phone, name, Password, registered.Str("account_number"), session);
    }

    /// <summary>Registers two users and returns them with a client signed in as each.</summary>
    public static async Task<TallyPair> RegisterPairAsync(this TallyTestHost host, string? aliceName = null, string? bobName = null)
    {
        var alice = await host.RegisterAndLoginAsync(aliceName);
        var bob = await host.RegisterAndLoginAsync(bobName);
        return new TallyPair(alice, bob, host.CreateClient(alice), host.CreateClient(bob));
    }

    /// <summary>Registers a new user and returns a client signed in as them, for tests that need only some session.</summary>
    public static async Task<HttpClient> CreateNewUserClientAsync(this TallyTestHost host) =>
        host.CreateClient(await host.RegisterAndLoginAsync());

    public static async Task<string> LoginAsync(this TallyTestHost host, string phone, string password)
    {
        ArgumentNullException.ThrowIfNull(host);
        using var client = host.CreateClient();
        var login = await (await client.PostAsJsonAsync("/api/auth/login", new { phone, password })).AssertJsonAsync();
        return login.Str("session");
    }

    public static HttpClient CreateClient(this TallyTestHost host, TallyUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return host.CreateClient(user.Session);
    }

    public static HttpClient CreateClient(this TallyTestHost host, string session)
    {
        ArgumentNullException.ThrowIfNull(host);
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", session);
        return client;
    }

    public static HttpClient CreateAdminClient(this TallyTestHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Secret", host.AdminHeaderValue);
        return client;
    }

    public static StringContent JsonBody(string raw) => new(raw, Encoding.UTF8, "application/json");

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts a 200 (or the given status) and returns the JSON body; the failure message carries the body.</summary>
    public static async Task<JsonElement> AssertJsonAsync(this HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts an RFC 9457 problem with the given status and error code, and no leaked internals.</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string errorCode)
    {
        var problem = await AssertProblemShapeAsync(response);
        Assert.True(response.StatusCode == status, $"Expected {(int)status} {errorCode}, got {(int)response.StatusCode}: {problem}");
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal(errorCode, problem.GetProperty("error_code").GetString());
        return problem;
    }

    /// <summary>Awaits the request, then asserts as <see cref="AssertJsonAsync(HttpResponseMessage, HttpStatusCode)"/>.</summary>
    public static async Task<JsonElement> AssertJsonAsync(this Task<HttpResponseMessage> request, HttpStatusCode expected = HttpStatusCode.OK)
    {
        ArgumentNullException.ThrowIfNull(request);
        return await (await request).AssertJsonAsync(expected);
    }

    /// <summary>Awaits the request, then asserts as <see cref="AssertProblemAsync(HttpResponseMessage, HttpStatusCode, string)"/>.</summary>
    public static async Task<JsonElement> AssertProblemAsync(this Task<HttpResponseMessage> request, HttpStatusCode status, string errorCode)
    {
        ArgumentNullException.ThrowIfNull(request);
        return await (await request).AssertProblemAsync(status, errorCode);
    }

    /// <summary>Asserts a 4xx problem with a non-empty error code, whatever the code.</summary>
    public static async Task<JsonElement> AssertClientProblemAsync(this HttpResponseMessage response)
    {
        var problem = await AssertProblemShapeAsync(response);
        var status = (int)response.StatusCode;
        Assert.True(status is >= 400 and < 500, $"Expected a 4xx, got {status}: {problem}");
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    private static async Task<JsonElement> AssertProblemShapeAsync(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = await response.Content.ReadAsStringAsync();
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        Assert.True(mediaType == ProblemContentType, $"Expected {ProblemContentType}, got '{mediaType}' ({(int)response.StatusCode}): {text}");
        JsonElement problem;
        using (var document = JsonDocument.Parse(text))
        {
            problem = document.RootElement.Clone();
        }
        Assert.Equal(JsonValueKind.Object, problem.ValueKind);
        foreach (var field in new[] { "type", "title", "detail", "error_code", "trace_id" })
        {
            Assert.True(problem.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0, $"Problem lacks a non-empty '{field}': {text}");
        }
        Assert.Equal(JsonValueKind.Number, problem.GetProperty("status").ValueKind);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        return problem;
    }

    public static string Str(this JsonElement element, string property) =>
        element.GetProperty(property).GetString() ?? throw new InvalidOperationException($"'{property}' is null in {element}");

    public static long Long(this JsonElement element, string property) => element.GetProperty(property).GetInt64();

    /// <summary>Asserts the paging fields of a list: its total, page number, page size and page count.</summary>
    public static void AssertPaging(this JsonElement list, long total, long page, long size, long pages)
    {
        Assert.Equal(total, list.Long("total"));
        Assert.Equal(page, list.Long("page"));
        Assert.Equal(size, list.Long("size"));
        Assert.Equal(pages, list.Long("pages"));
    }

    public static bool IsNull(this JsonElement element, string property) =>
        !element.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null;

    /// <summary>Posts a transfer and asserts it succeeded; returns the transfer.</summary>
    public static async Task<JsonElement> TransferOkAsync(this HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync("/api/transfer/transfer", body);
        return await response.AssertJsonAsync();
    }

    public static async Task<(long Balance, long Available)> GetBalanceAsync(this HttpClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var body = await (await client.GetAsync("/api/account/balance")).AssertJsonAsync();
        return (body.Long("balance"), body.Long("available"));
    }

    public static async Task<(long Balance, long Available)> GetBalanceAsync(this TallyTestHost host, TallyUser user)
    {
        using var client = host.CreateClient(user);
        return await client.GetBalanceAsync();
    }

    public static async Task<long> BalanceAsync(this TallyTestHost host, TallyUser user) => (await host.GetBalanceAsync(user)).Balance;

    public static async Task<JsonElement> GetAuditAsync(this TallyTestHost host)
    {
        using var admin = host.CreateAdminClient();
        return await (await admin.GetAsync("/api/account/admin/audit")).AssertJsonAsync();
    }

    /// <summary>The money audit is ok: the ledger sums to 0, no balance is negative, every balance replays from its transfers.</summary>
    public static async Task<JsonElement> AssertAuditOkAsync(this TallyTestHost host)
    {
        var audit = await host.GetAuditAsync();
        Assert.True(audit.GetProperty("ok").GetBoolean(), audit.ToString());
        Assert.Equal(0, audit.Long("ledger_sum"));
        Assert.Equal(0, audit.Long("negative_balances"));
        Assert.Equal(0, audit.Long("mismatched_accounts"));
        return audit;
    }

    /// <summary>Polls until <paramref name="probe"/> returns a value or the timeout passes; returns the last value.</summary>
    public static async Task<T?> PollAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, TimeSpan? interval = null)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(probe);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = await probe();
            if (value is not null || DateTime.UtcNow >= deadline)
            {
                return value;
            }
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>Polls until the check returns true or the time is up; returns how long it took, or null.</summary>
    public static async Task<TimeSpan?> WithinAsync(TimeSpan limit, Func<Task<bool>> check, int intervalMs = 50)
    {
        ArgumentNullException.ThrowIfNull(check);
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            try
            {
                if (await check())
                {
                    return watch.Elapsed;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or Xunit.Sdk.XunitException or JsonException or TaskCanceledException)
            {
                // Not yet.
            }
            await Task.Delay(intervalMs);
        }
        return null;
    }
}
