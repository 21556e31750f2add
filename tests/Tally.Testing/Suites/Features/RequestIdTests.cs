namespace Tally.Testing.Suites.Features;

public abstract class RequestIdTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : TallyTestHost, ITallyMode
{
    [Fact]
    public async Task RequestId_IsEchoed_OnProblemsWrittenByTheExceptionHandler()
    {
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/register")
        {
            Content = new StringContent(new string('x', 70 * 1024), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Request-Id", "too-large-body-1");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("too-large-body-1", Assert.Single(response.Headers.GetValues("X-Request-Id")));
    }

    [Fact]
    public async Task RequestId_WithUnsafeCharacters_IsReplacedByAGeneratedOne()
    {
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.TryAddWithoutValidation("X-Request-Id", "<script>alert(1)</script>");

        var response = await client.SendAsync(request);

        var id = Assert.Single(response.Headers.GetValues("X-Request-Id"));
        Assert.NotEqual("<script>alert(1)</script>", id);
        Assert.Matches("^[0-9a-f]{32}$", id);
    }
}
