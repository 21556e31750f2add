using Tally.Server.Cache;
using Tally.Server.Features.Notifications;
using Tally.Server.Features.Transfers;

namespace Tally.Server;

/// <summary>The composition of Tally: options, then the storage, cache and bus modules of the <see cref="TallyComposition"/> chosen at build.</summary>
public static class TallySetup
{
    public static WebApplicationBuilder AddTallyOptions(this WebApplicationBuilder builder, TallyComposition composition)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(composition);
        var services = builder.Services;
        services.AddSingleton(composition);
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<BusOptions>().BindConfiguration(BusOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<RoleOptions>()
            .Configure<IConfiguration>((options, configuration) => configuration.Bind(options))
            .ValidateUnchanged(RoleOptions.Key, composition.Role, options => options.Role == composition.Role)
            .ValidateOnStart();
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.Section);
        services.AddOptions<TransferOptions>().BindConfiguration(TransferOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<TallyMetrics>();

        // Without --urls or ASPNETCORE_URLS, Tally listens where its README says.
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls("http://localhost:8080");
        }
        return builder;
    }

    public static WebApplicationBuilder AddTallyStorage(this WebApplicationBuilder builder, StorageProvider provider)
    {
        ArgumentNullException.ThrowIfNull(builder);
        StorageModule.Add(builder.Services, provider);
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: [ServiceDefaultsExtensions.ReadyTag]);
        return builder;
    }

    public static WebApplicationBuilder AddTallyCache(this WebApplicationBuilder builder, CacheProvider provider)
    {
        ArgumentNullException.ThrowIfNull(builder);
        CacheModule.Add(builder.Services, provider);
        return builder;
    }

    public static WebApplicationBuilder AddTallyBus(this WebApplicationBuilder builder, BusTransport transport, TallyRole role)
    {
        ArgumentNullException.ThrowIfNull(builder);
        BusModule.Add(builder.Services, transport, role);
        builder.Services.AddScoped<ICommandHandler<RegisterUser, Outcome<UserView>>, RegisterUserHandler>();
        builder.Services.AddScoped<ICommandHandler<MakeTransfer, Outcome<TransferResult>>, MakeTransferHandler>();
        builder.Services.AddScoped<ICommandHandler<ResolveTransfer, Outcome<TransferResult>>, ResolveTransferHandler>();
        return builder;
    }

    public static WebApplicationBuilder AddTallyFeatures(this WebApplicationBuilder builder, TallyRole role)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<NotificationHub>();
        // The hold-expiry sweep is a write: it runs where the workers run (Role=worker or all), not on api instances.
        if (role.RunsWorkers())
        {
            builder.Services.AddHostedService<HoldExpiryService>();
        }
        return builder;
    }

    /// <summary>Creates and migrates the database before the first request.</summary>
    public static WebApplication MigrateTallyDatabase(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Services.GetRequiredService<IDatabaseMigrator>().Migrate();
        return app;
    }

    public static WebApplication UseTallyWebSockets(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseWebSockets(new WebSocketOptions
        {
            KeepAliveInterval = TimeSpan.FromSeconds(20),
            KeepAliveTimeout = TimeSpan.FromSeconds(30),
        });
        return app;
    }
}

internal sealed class DatabaseHealthCheck(ILedgerReader reader, IDatabaseMigrator? database = null) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await reader.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy(database?.Name ?? "database");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.");
        }
    }
}
