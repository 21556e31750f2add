using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Tally.Web.Tests.Infrastructure;

/// <summary>
/// Debian's headless Chromium driven by Playwright. Playwright never downloads a browser here: it launches
/// /usr/bin/chromium through ExecutablePath, with its Node driver from the NuGet package.
/// </summary>
internal sealed class BrowserHost : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;
    private readonly List<WatchedPage> _pages = [];

    private BrowserHost(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        _browser = browser;
    }

    public static async Task<BrowserHost> LaunchAsync()
    {
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install chromium (test.sh does)");
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                Timeout = 60_000,
            });
            return new BrowserHost(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>A page in its own browser context (its own sessionStorage), as a separate person would have.</summary>
    public async Task<WatchedPage> OpenAsync(Uri baseUrl, int width = 1280, int height = 800)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        var watched = new WatchedPage(page);
        _pages.Add(watched);
        return watched;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var page in _pages)
        {
            await page.Page.Context.CloseAsync();
        }
        await _browser.CloseAsync();
        _playwright.Dispose();
    }
}

/// <summary>A page whose console errors and uncaught exceptions are recorded; a test fails on any it did not expect.</summary>
internal sealed class WatchedPage
{
    private readonly List<string> _errors = [];
    private readonly List<(Regex Pattern, int? Exactly, string Why)> _expected = [];

    public WatchedPage(IPage page)
    {
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                Record($"console error: {message.Text} ({message.Location})");
            }
        };
        page.PageError += (_, error) => Record($"page error: {error}");
        page.Crash += (_, _) => Record("the page crashed");
    }

    public IPage Page { get; }

    private void Record(string text)
    {
        lock (_errors)
        {
            _errors.Add(text);
        }
    }

    /// <summary>
    /// Declares console errors that the test provokes on purpose (Chromium logs every HTTP error response
    /// of a fetch): exactly <paramref name="exactly"/> of them, or any number when null.
    /// </summary>
    public void Expect(Regex pattern, int? exactly, string why) => _expected.Add((pattern, exactly, why));

    public void AssertNoUnexpectedErrors()
    {
        List<string> errors;
        lock (_errors)
        {
            errors = [.. _errors];
        }
        var unexpected = errors.Where(e => !_expected.Any(x => x.Pattern.IsMatch(e))).ToList();
        Assert.True(unexpected.Count == 0, $"{Page.Url} logged unexpected errors:\n{string.Join('\n', unexpected)}");
        foreach (var (pattern, exactly, why) in _expected.Where(x => x.Exactly is not null))
        {
            var count = errors.Count(pattern.IsMatch);
            Assert.True(count == exactly, $"{Page.Url}: expected {exactly} console error(s) matching {pattern} ({why}), saw {count}:\n{string.Join('\n', errors)}");
        }
    }
}
