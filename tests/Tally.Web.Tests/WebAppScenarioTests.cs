using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tally.Web.Tests;

/// <summary>
/// The web app end to end in headless Chromium, against whichever site the fixture provides (Tally alone, or
/// behind the gateway). Every test fails on a console error or page error it did not provoke on purpose.
/// </summary>
public abstract partial class WebAppScenarioTests(WebAppSite site) : IAsyncLifetime
{
    // The acceptance bound for a notification and the new balance to reach an open page without a reload.
    private static readonly LocatorAssertionsToContainTextOptions LiveContains = new() { Timeout = 2_000 };
    private static readonly LocatorAssertionsToHaveTextOptions LiveHasText = new() { Timeout = 2_000 };

    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; " +
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

    private BrowserHost _browser = null!;
    private readonly List<WatchedPage> _pages = [];

    public async Task InitializeAsync()
    {
        // Generous waits for everything that is not the timed part: the machine is small and shared.
        SetDefaultExpectTimeout(30_000);
        _browser = await BrowserHost.LaunchAsync();
    }

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    private async Task<WatchedPage> OpenAsync(string route, int width = 1280, int height = 800)
    {
        var page = await _browser.OpenAsync(site.BaseUrl, width, height);
        _pages.Add(page);
        var response = await page.Page.GotoAsync($"/#{route}");
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        // The page runs under the agreed policy: proof that it needs no inline script or style and no other origin.
        var headers = await response.AllHeadersAsync();
        Assert.Equal(ContentSecurityPolicy, headers.GetValueOrDefault("content-security-policy"));
        Assert.Equal("nosniff", headers.GetValueOrDefault("x-content-type-options"));
        Assert.Equal("DENY", headers.GetValueOrDefault("x-frame-options"));
        Assert.Equal("no-referrer", headers.GetValueOrDefault("referrer-policy"));
        return page;
    }

    private void AssertNoUnexpectedBrowserErrors()
    {
        foreach (var page in _pages)
        {
            page.AssertNoUnexpectedErrors();
        }
    }

    [Fact]
    public async Task TwoUsers_TransferInstantlyAndByHold_ReceiverSeesEachNotificationAndBalanceLive()
    {
        var alice = Person.Create("Alice");
        var bob = Person.Create("Bob");
        var a = await OpenAsync("/register");
        var b = await OpenAsync("/register");

        await RegisterWithPointerAsync(a.Page, alice);
        await RegisterWithKeyboardAsync(b.Page, bob);
        await Expect(a.Page.Locator("#balance")).ToHaveTextAsync("100,000");
        await Expect(b.Page.Locator("#balance")).ToHaveTextAsync("100,000");
        await Expect(b.Page.Locator("#live-status")).ToHaveTextAsync("Live updates: on");
        await Expect(b.Page.Locator("#account-number")).ToHaveTextAsync(TwelveDigits());
        var bobAccount = (await b.Page.Locator("#account-number").TextContentAsync())!;

        // An instant transfer: the recipient's name is looked up before sending.
        await FillTransferAsync(a.Page, bobAccount, bob.Name, "5000");
        await a.Page.Locator("#note").FillAsync("lunch");
        await ClickSendAsync(a.Page);
        await Expect(a.Page.Locator("#transfer-result")).ToHaveTextAsync($"Sent 5,000 to {bob.Name}.");
        await Expect(b.Page.Locator("#notifications")).ToContainTextAsync($"You received 5000 from {alice.Name}", LiveContains);
        await Expect(b.Page.Locator("#balance")).ToHaveTextAsync("105,000", LiveHasText);
        await Expect(a.Page.Locator("#balance")).ToHaveTextAsync("95,000");
        await Expect(b.Page.Locator("#history-rows")).ToContainTextAsync($"From {alice.Name}");

        // A hold: reserved from Alice's available balance, nothing for Bob until Alice confirms it.
        await a.Page.Locator("#amount").FillAsync("700");
        await HoldAsync(a.Page);
        await ClickSendAsync(a.Page);
        await Expect(a.Page.Locator("#transfer-result")).ToContainTextAsync($"Held 700 for {bob.Name}");
        await Expect(a.Page.Locator("#available")).ToHaveTextAsync("94,300");
        await Expect(a.Page.Locator("#balance")).ToHaveTextAsync("95,000");
        var confirm = a.Page.GetByRole(AriaRole.Button, new() { Name = $"Confirm 700 to {bob.Name}" });
        await Expect(confirm).ToBeVisibleAsync();
        await Expect(b.Page.Locator("#notifications li.notification")).ToHaveCountAsync(1);
        await Expect(b.Page.Locator("#balance")).ToHaveTextAsync("105,000");

        await confirm.ClickAsync();
        await Expect(a.Page.Locator("#transfer-result")).ToHaveTextAsync($"Confirmed: 700 sent to {bob.Name}.");
        await Expect(b.Page.Locator("#notifications")).ToContainTextAsync($"You received 700 from {alice.Name}", LiveContains);
        await Expect(b.Page.Locator("#balance")).ToHaveTextAsync("105,700", LiveHasText);
        await Expect(b.Page.Locator("#notifications li.notification")).ToHaveCountAsync(2);
        await Expect(a.Page.Locator("#balance")).ToHaveTextAsync("94,300");
        await Expect(a.Page.Locator("#available")).ToHaveTextAsync("94,300");
        await Expect(a.Page.Locator("#pending")).ToHaveTextAsync("No pending holds.");
        await Expect(a.Page.Locator("#notifications")).ToContainTextAsync($"You sent 700 to {bob.Name}");

        // A bad amount: the page shows the problem's detail, exactly as the API words it.
        using var api = new TallyApi(site.BaseUrl);
        var aliceSession = await a.Page.EvaluateAsync<string>("() => sessionStorage.getItem('tally.session')");
        var problem = await api.SendAsync(HttpMethod.Post, "/api/transfer/transfer", aliceSession,
            new { to_account_number = bobAccount, amount = 1.5, instant = true }, 400);
        Assert.Equal("INVALID_AMOUNT", problem.GetProperty("error_code").GetString());
        var detail = problem.GetProperty("detail").GetString()!;
        a.Expect(StatusError(400), 1, "the bad amount's 400 response");
        await a.Page.Locator("#amount").FillAsync("1.5");
        await ClickSendAsync(a.Page);
        await Expect(a.Page.Locator("#transfer-error")).ToHaveTextAsync(detail);
        await Expect(a.Page.Locator("#amount")).ToBeFocusedAsync();
        await Expect(a.Page.Locator("#balance")).ToHaveTextAsync("94,300");

        // The admin page, behind the secret that the user types.
        var admin = await OpenAsync("/admin");
        await admin.Page.GetByLabel("Admin secret").FillAsync(WebAppSite.AdminSecret);
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Open the admin view" }).ClickAsync();
        await Expect(admin.Page.Locator("#audit-status")).ToHaveTextAsync("ok");
        await Expect(admin.Page.Locator("#stats-figures")).ToContainTextAsync("Users");
        await Expect(admin.Page.Locator("#users-list")).ToContainTextAsync(alice.Name);
        await Expect(admin.Page.Locator("#users-list")).ToContainTextAsync(bob.Name);
        await Expect(admin.Page.Locator("#transfers-list")).ToContainTextAsync("5,000");
        await admin.Page.ScreenshotAsync(new() { Path = Path.Combine(Repository.ScreenshotsFolder, $"admin-desktop-{site.Name}.png"), FullPage = true });
        await admin.Page.SetViewportSizeAsync(375, 812);
        await AssertNoSidewaysScrollAsync(admin.Page);
        await admin.Page.GetByLabel("Search by name, phone or account number").FillAsync(alice.Phone);
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Search", Exact = true }).ClickAsync();
        await Expect(admin.Page.Locator("#users-list tbody tr")).ToHaveCountAsync(1);
        await Expect(admin.Page.Locator("#users-list tbody")).ToContainTextAsync(alice.Name);

        await ScreenshotDashboardAsync(b.Page);
        AssertNoUnexpectedBrowserErrors();
    }

    [Fact]
    public async Task LiveUpdates_ResumeAfterTallyIsKilledAndRestarted()
    {
        using var api = new TallyApi(site.BaseUrl);
        var carol = Person.Create("Carol");
        var dave = Person.Create("Dave");
        var carolAccount = await api.RegisterAsync(carol);
        await api.RegisterAsync(dave);
        var daveSession = await api.LoginAsync(dave);
        var page = await OpenLoggedInAsync(carol);
        await Expect(page.Page.Locator("#live-status")).ToHaveTextAsync("Live updates: on");

        // While Tally is down the page retries: the browser logs each refused connection or gateway error.
        var whileDown = new Regex("WebSocket connection to .* failed|net::ERR_CONNECTION_REFUSED|net::ERR_CONNECTION_RESET|net::ERR_EMPTY_RESPONSE|status of 50[234]");
        page.Expect(whileDown, null, "Tally is down during the restart");
        await site.RestartTallyAsync();

        // The old socket died with the process, so a notification now arrives only over a new one.
        await Expect(page.Page.Locator("#live-status")).ToHaveTextAsync("Live updates: on");
        await api.SendAsync(HttpMethod.Post, "/api/transfer/transfer", daveSession,
            new { to_account_number = carolAccount, amount = 1234, instant = true }, 200);
        await Expect(page.Page.Locator("#notifications")).ToContainTextAsync($"You received 1234 from {dave.Name}", LiveContains);
        await Expect(page.Page.Locator("#balance")).ToHaveTextAsync("101,234", LiveHasText);
        AssertNoUnexpectedBrowserErrors();
    }

    [Fact]
    public async Task RevokedSession_GoesBackToLoginWithTheProblemDetail()
    {
        using var api = new TallyApi(site.BaseUrl);
        var erin = Person.Create("Erin");
        await api.RegisterAsync(erin);
        var page = await OpenAsync("/login");

        // A wrong password shows the API's own sentence.
        var wrong = await api.SendAsync(HttpMethod.Post, "/api/auth/login", null, new { phone = erin.Phone, password = "not-the-password" }, 401);
        page.Expect(StatusError(401), null, "a wrong password, then the calls of a revoked session");
        await page.Page.GetByLabel("Phone").FillAsync(erin.Phone);
        await page.Page.GetByLabel("Password").FillAsync("not-the-password");
        await page.Page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await Expect(page.Page.Locator("#login-error")).ToHaveTextAsync(wrong.GetProperty("detail").GetString()!);

        // Logging out from the page ends the session on the server too.
        await LogInAsync(page.Page, erin);
        await Expect(page.Page.Locator("#balance")).ToHaveTextAsync("100,000");
        var loggedOut = await page.Page.EvaluateAsync<string>("() => sessionStorage.getItem('tally.session')");
        await page.Page.GetByRole(AriaRole.Button, new() { Name = "Log out" }).ClickAsync();
        await Expect(page.Page.Locator("#login-notice")).ToHaveTextAsync("You are logged out.");
        await api.SendAsync(HttpMethod.Get, "/api/account/me", loggedOut, null, 401);

        // A session that has ended on the server (revoked here, as an expiry would end it) is what this
        // browser holds when the dashboard opens: its calls get 401, and the page goes back to login.
        var session = await api.LoginAsync(erin);
        await api.SendAsync(HttpMethod.Post, "/api/auth/logout", session, null, 204);
        var unauthenticated = await api.SendAsync(HttpMethod.Get, "/api/account/me", session, null, 401);
        await page.Page.EvaluateAsync("token => { sessionStorage.setItem('tally.session', token); location.hash = '#/dashboard'; }", session);

        await Expect(page.Page.Locator("#login-notice")).ToContainTextAsync(unauthenticated.GetProperty("detail").GetString()!);
        await Expect(page.Page).ToHaveURLAsync(new Regex("#/login$"));
        await Expect(page.Page.Locator("h1")).ToHaveTextAsync("Log in");
        await Expect(page.Page.Locator("h1")).ToBeFocusedAsync();
        Assert.Null(await page.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('tally.session')"));
        AssertNoUnexpectedBrowserErrors();
    }

    [Fact]
    public async Task UnknownRecipient_ShowsTheLookupProblemAndSendsNothing()
    {
        using var api = new TallyApi(site.BaseUrl);
        var frank = Person.Create("Frank");
        await api.RegisterAsync(frank);
        var page = await OpenLoggedInAsync(frank);
        await Expect(page.Page.Locator("#balance")).ToHaveTextAsync("100,000");
        const string nobody = "000000000999";
        var notFound = await api.SendAsync(HttpMethod.Get, $"/api/account/lookup?account_number={nobody}", await api.LoginAsync(frank), null, 404);
        page.Expect(StatusError(404), null, "the lookup of an account that does not exist");

        await page.Page.Locator("#to-account").FillAsync(nobody);
        await Expect(page.Page.Locator("#recipient-name")).ToHaveTextAsync(notFound.GetProperty("detail").GetString()!);
        await page.Page.Locator("#amount").FillAsync("100");
        await ClickSendAsync(page.Page);

        await Expect(page.Page.Locator("#transfer-error")).ToHaveTextAsync(notFound.GetProperty("detail").GetString()!);
        await Expect(page.Page.Locator("#balance")).ToHaveTextAsync("100,000");
        await Expect(page.Page.Locator("#history-rows tr")).ToHaveCountAsync(1);
        AssertNoUnexpectedBrowserErrors();
    }

    [Fact]
    public async Task LostResponse_SendingAgain_AppliesTheTransferOnce()
    {
        using var api = new TallyApi(site.BaseUrl);
        var kim = Person.Create("Kim");
        var leo = Person.Create("Leo");
        await api.RegisterAsync(kim);
        var leoAccount = await api.RegisterAsync(leo);
        var page = await OpenLoggedInAsync(kim);
        await Expect(page.Page.Locator("#balance")).ToHaveTextAsync("100,000");

        // The first send reaches Tally and is applied, but its response never reaches the page.
        var delivered = 0;
        await page.Page.RouteAsync("**/api/transfer/transfer", async route =>
        {
            if (Interlocked.Increment(ref delivered) == 1)
            {
                await using var applied = await route.FetchAsync();
                Assert.Equal(200, applied.Status);
                await route.AbortAsync("connectionreset");
            }
            else
            {
                await route.ContinueAsync();
            }
        });
        page.Expect(new Regex("net::ERR_CONNECTION_RESET"), 1, "the response that the test cuts off");
        await FillTransferAsync(page.Page, leoAccount, leo.Name, "300");
        await ClickSendAsync(page.Page);
        await Expect(page.Page.Locator("#transfer-error")).ToContainTextAsync("cannot be reached");

        await ClickSendAsync(page.Page);

        await Expect(page.Page.Locator("#transfer-result")).ToHaveTextAsync($"Sent 300 to {leo.Name}.");
        Assert.Equal(2, delivered);
        await Expect(page.Page.Locator("#balance")).ToHaveTextAsync("99,700");
        var leoBalance = await api.SendAsync(HttpMethod.Get, "/api/account/balance", await api.LoginAsync(leo), null, 200);
        Assert.Equal(100_300, leoBalance.GetProperty("balance").GetInt64());
        await Expect(page.Page.Locator("#history-rows tr")).ToHaveCountAsync(2);
        AssertNoUnexpectedBrowserErrors();
    }

    [Fact]
    public async Task CancelledHold_ReleasesTheAvailableBalanceAndPaysNobody()
    {
        using var api = new TallyApi(site.BaseUrl);
        var grace = Person.Create("Grace");
        var heidi = Person.Create("Heidi");
        await api.RegisterAsync(grace);
        var heidiAccount = await api.RegisterAsync(heidi);
        var page = await OpenLoggedInAsync(grace);

        await FillTransferAsync(page.Page, heidiAccount, heidi.Name, "2500", hold: true);
        await ClickSendAsync(page.Page);
        await Expect(page.Page.Locator("#available")).ToHaveTextAsync("97,500");
        await page.Page.GetByRole(AriaRole.Button, new() { Name = $"Cancel 2,500 to {heidi.Name}" }).ClickAsync();

        await Expect(page.Page.Locator("#transfer-result")).ToHaveTextAsync($"Cancelled: the hold of 2,500 for {heidi.Name} is released.");
        await Expect(page.Page.Locator("#available")).ToHaveTextAsync("100,000");
        await Expect(page.Page.Locator("#balance")).ToHaveTextAsync("100,000");
        await Expect(page.Page.Locator("#pending")).ToHaveTextAsync("No pending holds.");
        await Expect(page.Page.Locator("#pending-heading")).ToBeFocusedAsync();
        await Expect(page.Page.Locator("#history-rows")).ToContainTextAsync("CANCELLED");
        var heidiBalance = await api.SendAsync(HttpMethod.Get, "/api/account/balance", await api.LoginAsync(heidi), null, 200);
        Assert.Equal(100_000, heidiBalance.GetProperty("balance").GetInt64());
        AssertNoUnexpectedBrowserErrors();
    }

    [Fact]
    public async Task History_PagesTenAtATime()
    {
        using var api = new TallyApi(site.BaseUrl);
        var ivan = Person.Create("Ivan");
        var judy = Person.Create("Judy");
        await api.RegisterAsync(ivan);
        var judyAccount = await api.RegisterAsync(judy);
        var ivanSession = await api.LoginAsync(ivan);
        // With the opening balance, 13 transactions: pages of 10 and 3.
        for (var amount = 101; amount <= 112; amount++)
        {
            await api.SendAsync(HttpMethod.Post, "/api/transfer/transfer", ivanSession, new { to_account_number = judyAccount, amount, instant = true }, 200);
        }
        var page = await OpenLoggedInAsync(ivan);

        await Expect(page.Page.Locator("#history-page")).ToHaveTextAsync("Page 1 of 2 (13 in all)");
        await Expect(page.Page.Locator("#history-rows tr")).ToHaveCountAsync(10);
        await Expect(page.Page.Locator("#history-rows tr").First).ToContainTextAsync("−112");
        await Expect(page.Page.Locator("#history-previous")).ToBeDisabledAsync();
        await page.Page.Locator("#history-next").ClickAsync();

        await Expect(page.Page.Locator("#history-page")).ToHaveTextAsync("Page 2 of 2 (13 in all)");
        await Expect(page.Page.Locator("#history-rows tr")).ToHaveCountAsync(3);
        await Expect(page.Page.Locator("#history-rows")).ToContainTextAsync("Opening balance");
        await Expect(page.Page.Locator("#history-next")).ToBeDisabledAsync();
        await page.Page.Locator("#history-previous").ClickAsync();
        await Expect(page.Page.Locator("#history-page")).ToHaveTextAsync("Page 1 of 2 (13 in all)");
        var left = 100_000 - Enumerable.Range(101, 12).Sum();
        await Expect(page.Page.Locator("#balance")).ToHaveTextAsync(left.ToString("N0", CultureInfo.InvariantCulture));
        AssertNoUnexpectedBrowserErrors();
    }

    [Fact]
    public async Task AdminPage_WithAWrongSecret_ShowsTheProblemDetailAndNoData()
    {
        using var api = new TallyApi(site.BaseUrl);
        var problem = await api.SendAsync(HttpMethod.Get, "/api/account/admin/audit", null, null, 403, ("X-Admin-Secret", "not-the-secret"));
        var admin = await OpenAsync("/admin");
        admin.Expect(StatusError(403), null, "calls with a wrong admin secret");

        await admin.Page.GetByLabel("Admin secret").FillAsync("not-the-secret");
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Open the admin view" }).ClickAsync();

        await Expect(admin.Page.Locator("#admin-error")).ToHaveTextAsync(problem.GetProperty("detail").GetString()!);
        await Expect(admin.Page.Locator("#admin-panels")).ToBeHiddenAsync();
        await Expect(admin.Page.GetByLabel("Admin secret")).ToBeFocusedAsync();
        Assert.Null(await admin.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('tally.admin-secret')"));
        AssertNoUnexpectedBrowserErrors();
    }

    private static async Task RegisterWithPointerAsync(IPage page, Person person)
    {
        await Expect(page.Locator("h1")).ToHaveTextAsync("Open an account");
        await page.GetByLabel("Phone").FillAsync(person.Phone);
        await page.GetByLabel("Name").FillAsync(person.Name);
        await page.GetByLabel("Password").FillAsync(person.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Open my account" }).ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync($"Hello, {person.Name}");
    }

    // Keyboard only: focus starts on the page heading, Tab walks the labelled fields, Enter submits.
    private static async Task RegisterWithKeyboardAsync(IPage page, Person person)
    {
        await Expect(page.Locator("h1")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByLabel("Phone")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(person.Phone);
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByLabel("Name")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(person.Name);
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByLabel("Password")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(person.Password);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("h1")).ToHaveTextAsync($"Hello, {person.Name}");
        await Expect(page.Locator("h1")).ToBeFocusedAsync();
    }

    // The transfer form: the recipient's name is looked up from the account number before anything is sent.
    private static async Task FillTransferAsync(IPage page, string account, string recipient, string amount, bool hold = false)
    {
        await page.Locator("#to-account").FillAsync(account);
        await Expect(page.Locator("#recipient-name")).ToHaveTextAsync($"Recipient: {recipient}");
        await page.Locator("#amount").FillAsync(amount);
        if (hold)
        {
            await HoldAsync(page);
        }
    }

    private static Task HoldAsync(IPage page) => page.GetByLabel("As a hold that I confirm later").CheckAsync();

    private static Task ClickSendAsync(IPage page) => page.GetByRole(AriaRole.Button, new() { Name = "Send", Exact = true }).ClickAsync();

    // A new page of the dashboard, logged in through the login form.
    private async Task<WatchedPage> OpenLoggedInAsync(Person person)
    {
        var page = await OpenAsync("/login");
        await LogInAsync(page.Page, person);
        return page;
    }

    private static async Task LogInAsync(IPage page, Person person)
    {
        await Expect(page.Locator("h1")).ToHaveTextAsync("Log in");
        await page.GetByLabel("Phone").FillAsync(person.Phone);
        await page.GetByLabel("Password").FillAsync(person.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync($"Hello, {person.Name}");
    }

    // The dashboard at desktop and phone width, kept as CI artifacts; at phone width nothing may scroll sideways.
    private async Task ScreenshotDashboardAsync(IPage page)
    {
        var folder = Repository.ScreenshotsFolder;
        await page.SetViewportSizeAsync(1280, 800);
        await page.ScreenshotAsync(new() { Path = Path.Combine(folder, $"dashboard-desktop-{site.Name}.png"), FullPage = true });
        await page.SetViewportSizeAsync(375, 812);
        await AssertNoSidewaysScrollAsync(page);
        await page.ScreenshotAsync(new() { Path = Path.Combine(folder, $"dashboard-phone-{site.Name}.png"), FullPage = true });
        foreach (var name in (string[])[$"dashboard-desktop-{site.Name}.png", $"dashboard-phone-{site.Name}.png"])
        {
            Assert.True(new FileInfo(Path.Combine(folder, name)).Length > 10_000, $"{name} looks empty");
        }
    }

    // Wide tables scroll inside their own region; the page itself never scrolls sideways.
    private static async Task AssertNoSidewaysScrollAsync(IPage page)
    {
        await Expect(page.Locator("h1")).ToBeVisibleAsync();
        var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");
        Assert.True(overflow <= 0, $"at 375 px {page.Url} is {overflow} px wider than the screen");
    }

    private static Regex StatusError(int status) =>
        new(string.Create(CultureInfo.InvariantCulture, $"the server responded with a status of {status}\\b"));

    [GeneratedRegex(@"^\d{12}$")]
    private static partial Regex TwelveDigits();
}

public sealed class DirectWebAppTests(DirectSite site) : WebAppScenarioTests(site), IClassFixture<DirectSite>;

#if TALLY_GATEWAY
public sealed class GatewayWebAppTests(GatewaySite site) : WebAppScenarioTests(site), IClassFixture<GatewaySite>;
#endif
