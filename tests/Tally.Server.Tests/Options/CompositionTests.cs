using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Tally.Server.Options;
using Tally.Server.Tests.Infrastructure;

namespace Tally.Server.Tests.Options;

public sealed class CompositionTests
{
    private static TallyComposition Read(params (string Key, string Value)[] settings) =>
        TallyComposition.Read(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    [Fact]
    public void NoSettings_ChooseTheEmbeddedMode()
    {
        Assert.Equal(new TallyComposition(StorageProvider.Sqlite, CacheProvider.InMemory, BusTransport.InProcess, TallyRole.All), Read());
    }

    [Fact]
    public void DocumentedValues_ChooseTheirProviders_InAnyCase()
    {
        var composition = Read(("Storage:Provider", "postgres"), ("Cache:Redis", "localhost:6379"), ("Bus:Transport", "RABBITMQ"), ("Role", "worker"));

        Assert.Equal(new TallyComposition(StorageProvider.Postgres, CacheProvider.Redis, BusTransport.RabbitMq, TallyRole.Worker), composition);
    }

    [Theory]
    [InlineData("Storage:Provider", "Oracle", "Storage:Provider is 'Oracle'; it must be Sqlite or Postgres.")]
    [InlineData("Storage:Provider", "1", "Storage:Provider is '1'; it must be Sqlite or Postgres.")]
    [InlineData("Bus:Transport", "Kafka", "Bus:Transport is 'Kafka'; it must be InProcess or RabbitMq.")]
    [InlineData("Role", "admin", "Role is 'admin'; it must be All or Api or Worker.")]
    public void AnUnknownValue_IsRefused_NamingTheKeyAndTheChoices(string key, string value, string message)
    {
        var refused = Assert.Throws<OptionsValidationException>(() => Read((key, value)));

        Assert.Equal([message], refused.Failures);
    }

    [Theory]
    [InlineData("api")]
    [InlineData("worker")]
    public void TheInProcessBus_OutsideRoleAll_IsRefused(string role)
    {
        var refused = Assert.Throws<OptionsValidationException>(() => Read(("Role", role)));

        Assert.Contains("requires Role=all", Assert.Single(refused.Failures), StringComparison.Ordinal);
    }

    /// <summary>A host whose storage setting arrives as app configuration, after Program chose its modules.</summary>
    private sealed class LateSettingApp : EmbeddedTallyApp
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:Provider"] = "Postgres" }));
        }
    }

    [Fact]
    public void AProviderSettingThatArrivesAfterTheChoice_StopsTheStart_InsteadOfBeingIgnored()
    {
        using var app = new LateSettingApp();

        var failure = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        var refused = Assert.IsType<OptionsValidationException>(Unwrap(failure));
        Assert.Contains("Storage:Provider changed after the host chose Sqlite", Assert.Single(refused.Failures), StringComparison.Ordinal);
    }

    private static Exception Unwrap(Exception exception)
    {
        while (exception is not OptionsValidationException && exception.InnerException is { } inner)
        {
            exception = inner;
        }
        return exception;
    }
}
