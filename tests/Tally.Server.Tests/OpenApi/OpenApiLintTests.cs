namespace Tally.Server.Tests.OpenApi;

/// <summary>The served OpenAPI document passes <c>redocly lint</c> with its recommended rules, with no error.</summary>
public sealed class OpenApiLintTests(SharedTallyApp app, ITestOutputHelper output) : IClassFixture<SharedTallyApp>
{
    [Fact]
    public async Task ServedDocument_PassesRedoclyRecommendedRules_WithoutErrors()
    {
        var redocly = await OpenApiTools.CommandAsync("redocly");
        using var client = app.CreateClient();
        var document = await client.GetStringAsync("/openapi/v1.json");
        var path = OpenApiTools.ArtifactPath("v1.json");
        await File.WriteAllTextAsync(path, document);

        var lint = await OpenApiTools.RunAsync(
            redocly, ["lint", path, "--extends=recommended", "--format=json"], OpenApiTools.ToolsDirectory, TimeSpan.FromMinutes(2));

        output.WriteLine(lint.Output);
        var report = JsonDocument.Parse(lint.Output[lint.Output.IndexOf('{', StringComparison.Ordinal)..]).RootElement;
        var totals = report.GetProperty("totals");
        var errors = totals.GetProperty("errors").GetInt32();
        var warnings = totals.GetProperty("warnings").GetInt32();
        output.WriteLine($"redocly lint (recommended): {errors} errors, {warnings} warnings");
        var problems = report.GetProperty("problems").EnumerateArray()
            .Where(p => p.GetProperty("severity").GetString() == "error")
            .Select(p => $"{p.GetProperty("ruleId").GetString()}: {p.GetProperty("message").GetString()}");
        Assert.True(errors == 0, $"redocly lint found {errors} errors:\n{string.Join('\n', problems)}");
        Assert.True(lint.ExitCode == 0, $"redocly lint exited {lint.ExitCode}:\n{lint.Error}");
    }
}
