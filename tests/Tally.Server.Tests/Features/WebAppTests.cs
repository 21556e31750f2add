using System.Text.RegularExpressions;
using Tally.Server.Features.WebApp;

namespace Tally.Server.Tests.Features;

public sealed partial class WebAppTests(SharedTallyApp factory) : IClassFixture<SharedTallyApp>
{
    private const string Policy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; " +
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

    [Fact]
    public void ContentSecurityPolicy_IsTheOneAgreedWithTheGateway() => Assert.Equal(Policy, WebAppSetup.ContentSecurityPolicy);

    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/index.html", "text/html")]
    [InlineData("/app/main.js", "text/javascript")]
    [InlineData("/app/views/dashboard.js", "text/javascript")]
    [InlineData("/app/app.css", "text/css")]
    [InlineData("/favicon.svg", "image/svg+xml")]
    public async Task WebApp_IsServedWithItsSecurityHeaders(string path, string mediaType)
    {
        using var client = factory.CreateClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Policy, Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.True(response.Headers.CacheControl?.NoCache, "assets are revalidated, so a deploy reaches open browsers");
    }

    [Fact]
    public async Task Index_LoadsTheAppAsAModuleFromItsOwnOrigin()
    {
        using var client = factory.CreateClient();

        var html = await client.GetStringAsync("/");

        Assert.Contains("<script type=\"module\" src=\"/app/main.js\"></script>", html, StringComparison.Ordinal);
        Assert.Contains("<link rel=\"stylesheet\" href=\"/app/app.css\">", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/app/nothing.js")]
    [InlineData("/api/app/main.js")]
    [InlineData("/api/index.html")]
    public async Task UnknownAsset_IsNotFoundProblem(string path)
    {
        using var client = factory.CreateClient();

        var response = await client.GetAsync(path);

        await response.AssertProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task WebApp_AnswersOnlyReads()
    {
        using var client = factory.CreateClient();

        var response = await client.PostAsync("/index.html", new StringContent("{}"));

        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, $"got {(int)response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    // The policy forbids inline script and style; these checks keep the sources such that it never has to bend.
    [Fact]
    public void WebAppSources_HaveNoInlineScriptStyleHandlersEvalOrForeignOrigins()
    {
        var root = WebRoot();
        var files = Directory.GetFiles(root, "*", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.EndsWith(".js", StringComparison.Ordinal));
        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            var name = Path.GetRelativePath(root, file);
            Assert.DoesNotMatch(ForeignUrl(), text);
            if (file.EndsWith(".html", StringComparison.Ordinal))
            {
                Assert.DoesNotMatch(InlineScript(), text);
                Assert.DoesNotMatch(StyleAttributeOrElement(), text);
                Assert.DoesNotMatch(EventHandlerAttribute(), text);
            }
            if (file.EndsWith(".js", StringComparison.Ordinal))
            {
                Assert.False(UnsafeScript().IsMatch(text), $"{name} uses eval, Function, innerHTML or style attributes");
            }
        }
    }

    private static string WebRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tally.slnx")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        return Path.Combine(dir.FullName, "src", "Tally.Server", "wwwroot");
    }

    [GeneratedRegex(@"https?://(?!www\.w3\.org/2000/svg)", RegexOptions.IgnoreCase)]
    private static partial Regex ForeignUrl();

    [GeneratedRegex(@"<script(?![^>]*\bsrc=)[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex InlineScript();

    [GeneratedRegex(@"\sstyle\s*=|<style", RegexOptions.IgnoreCase)]
    private static partial Regex StyleAttributeOrElement();

    [GeneratedRegex(@"\son[a-z]+\s*=", RegexOptions.IgnoreCase)]
    private static partial Regex EventHandlerAttribute();

    [GeneratedRegex(@"\beval\s*\(|\bnew\s+Function\s*\(|\bsetTimeout\s*\(\s*['""`]|\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|setAttribute\(\s*['""]style|\.style\.|document\.write")]
    private static partial Regex UnsafeScript();
}
