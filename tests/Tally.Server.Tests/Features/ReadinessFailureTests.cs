using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Tally.Server.Options;
using Tally.Server.Storage;

namespace Tally.Server.Tests.Features;

public sealed class ReadinessFailureTests
{
    /// <summary>Tally with one more required dependency that is down.</summary>
    private sealed class FailingDependencyApp : EmbeddedTallyApp
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddHealthChecks()
                .AddCheck("ledger-replica", () => HealthCheckResult.Unhealthy("down"), tags: [ServiceDefaultsExtensions.ReadyTag]));
        }
    }

    /// <summary>Asserts that <paramref name="path"/> answers 503 with an unhealthy status, and returns the body.</summary>
    private static async Task<JsonElement> GetUnavailableAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("unhealthy", body.GetProperty("status").GetString());
        return body;
    }

    [Fact]
    public async Task Ready_WithAFailedDependency_Is503AndNamesIt()
    {
        using var app = new FailingDependencyApp();
        using var client = app.CreateClient();

        var body = await GetUnavailableAsync(client, "/ready");

        Assert.Equal("unhealthy", body.GetProperty("checks").GetProperty("ledger-replica").GetProperty("status").GetString());
        Assert.Equal("healthy", body.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
    }

    [Theory]
    [MemberData(nameof(TallyAreas.HealthEndpoints), MemberType = typeof(TallyAreas))]
    public async Task AreaHealth_WithAFailedDependency_Is503Unhealthy(string path, string service)
    {
        using var app = new FailingDependencyApp();
        using var client = app.CreateClient();

        var body = await GetUnavailableAsync(client, path);

        Assert.Equal(service, body.GetProperty("service").GetString());
    }

    [Fact]
    public async Task Liveness_StaysHealthy_WhenADependencyFails()
    {
        using var app = new FailingDependencyApp();
        using var client = app.CreateClient();

        var response = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task DatabaseCheck_IsUnhealthy_WhenTheDatabaseCannotBeOpened()
    {
        var folder = Path.Combine(Path.GetTempPath(), "tally-tests", Guid.NewGuid().ToString("N"));
        // A folder where the database file should be: SQLite cannot open it.
        Directory.CreateDirectory(Path.Combine(folder, "tally.db"));
        try
        {
            var database = new SqliteDatabase(Microsoft.Extensions.Options.Options.Create(new StorageOptions { DataDirectory = folder }));
            var check = new DatabaseHealthCheck(new SqliteLedgerReader(database, new AccountReadCache()));

            var result = await check.CheckHealthAsync(new HealthCheckContext());

            Assert.Equal(HealthStatus.Unhealthy, result.Status);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
