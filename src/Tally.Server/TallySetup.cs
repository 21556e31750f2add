using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Tally.Domain;
using Tally.Server.Bus;
using Tally.Server.Features.Auth;
using Tally.Server.Features.Notifications;
using Tally.Server.Features.Transfers;
using Tally.Server.Observability;
using Tally.Server.Options;
using Tally.Server.Storage;
using Tally.Server.Storage.Postgres;

namespace Tally.Server;

/// <summary>The composition of Tally: options, storage, bus and handlers, each chosen by configuration.</summary>
public static class TallySetup
{
    public static WebApplicationBuilder AddTallyOptions(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<BusOptions>().BindConfiguration(BusOptions.Section).ValidateDataAnnotations().ValidateOnStart();
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

    public static WebApplicationBuilder AddTallyStorage(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;

        // The provider is read when the services are first resolved, not here, so that every configuration
        // source counts (WebApplicationFactory adds its settings only when the app is built).
        services.AddOptions<StorageOptions>()
            .Validate(o => IsPostgres(o) || o.Provider.Equals("Sqlite", StringComparison.OrdinalIgnoreCase), "Storage:Provider must be Sqlite or Postgres.");
        // Several instances share one PostgreSQL database, so they must share the session signing key too:
        // a key generated into one instance's data folder would not verify on the others.
        services.AddOptions<AuthOptions>()
            .Validate<IOptions<StorageOptions>>(
                (auth, storage) => !IsPostgres(storage.Value) || !string.IsNullOrWhiteSpace(auth.SigningKey),
                "Storage:Provider is Postgres, so Auth:SigningKey (base64 of at least 32 bytes) must be set: every instance must verify the sessions of the others.");

        services.AddSingleton<SqliteDatabase>();
        services.AddSingleton<WriteQueue>();
        services.AddSingleton<SqliteLedgerStore>();
        services.AddSingleton<SqliteLedgerReader>();
        services.AddSingleton<PostgresDatabase>();
        services.AddSingleton<PostgresWriteQueue>();
        services.AddSingleton<PostgresLedgerStore>();
        services.AddSingleton<PostgresLedgerReader>();
        services.AddSingleton<IDatabaseMigrator>(sp => IsPostgres(sp)
            ? sp.GetRequiredService<PostgresDatabase>()
            : sp.GetRequiredService<SqliteDatabase>());
        services.AddSingleton<ILedgerStore>(sp => IsPostgres(sp)
            ? sp.GetRequiredService<PostgresLedgerStore>()
            : sp.GetRequiredService<SqliteLedgerStore>());
        services.AddSingleton<ICommandInbox>(sp => IsPostgres(sp)
            ? sp.GetRequiredService<PostgresLedgerStore>()
            : sp.GetRequiredService<SqliteLedgerStore>());
        services.AddSingleton<ILedgerReader>(sp => IsPostgres(sp)
            ? sp.GetRequiredService<PostgresLedgerReader>()
            : sp.GetRequiredService<SqliteLedgerReader>());
        services.AddSingleton<UserDirectory>();
        services.AddSingleton<AccountReadCache>();
        services.AddSingleton<IAccountCache>(sp => sp.GetRequiredService<AccountReadCache>());
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: [ServiceDefaultsExtensions.ReadyTag]);
        services.AddHealthChecks().AddCheck("cache", () => HealthCheckResult.Healthy("in-memory"), tags: [ServiceDefaultsExtensions.ReadyTag]);
        return builder;
    }

    private static bool IsPostgres(StorageOptions options) => options.Provider.Equals("Postgres", StringComparison.OrdinalIgnoreCase);

    private static bool IsPostgres(IServiceProvider services) => IsPostgres(services.GetRequiredService<IOptions<StorageOptions>>().Value);

    public static WebApplicationBuilder AddTallyBus(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        // The transport and the role are read when the services are resolved, not here, so that every configuration
        // source counts (WebApplicationFactory adds its settings only when the app is built).
        services.AddOptions<RoleOptions>()
            .Configure<IConfiguration>((o, configuration) =>
            {
                var role = configuration[RoleOptions.Key];
                if (!string.IsNullOrWhiteSpace(role))
                {
                    o.Role = Enum.TryParse<TallyRole>(role, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)
                        ? parsed
                        : throw new OptionsValidationException(RoleOptions.Key, typeof(RoleOptions), [$"Role '{role}' is not api, worker or all."]);
                }
            });
        services.AddOptions<RabbitMqOptions>().BindConfiguration(RabbitMqOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<BusOptions>()
            .Validate(o => BusHost.IsRabbitMq(o) || o.Transport.Equals("InProcess", StringComparison.OrdinalIgnoreCase), "Bus:Transport must be InProcess or RabbitMq.")
            .Validate<IOptions<RoleOptions>>(
                (bus, role) => BusHost.IsRabbitMq(bus) || role.Value.Role == TallyRole.All,
                "Bus:Transport InProcess runs api and worker in one process, so it requires Role=all; use Bus:Transport=RabbitMq for Role=api or Role=worker.");

        services.AddSingleton<CommandDispatcher>();
        services.AddSingleton<InProcessCommandBus>();
        services.AddSingleton<Bus.RabbitMq.RabbitMqConnection>();
        services.AddSingleton<Bus.RabbitMq.RabbitMqCommandBus>();
        services.AddSingleton<Bus.RabbitMq.RabbitMqCommandConsumer>();
        services.AddSingleton<ICommandBus>(sp => BusHost.IsRabbitMq(sp.GetRequiredService<IOptions<BusOptions>>().Value)
            ? sp.GetRequiredService<Bus.RabbitMq.RabbitMqCommandBus>()
            : sp.GetRequiredService<InProcessCommandBus>());
        services.AddSingleton<BusHost>();
        services.AddHostedService(sp => sp.GetRequiredService<BusHost>());
        services.AddHealthChecks().AddCheck<BusHealthCheck>("bus", tags: [ServiceDefaultsExtensions.ReadyTag]);

        services.AddScoped<ICommandHandler<RegisterUser, Outcome<UserView>>, RegisterUserHandler>();
        services.AddScoped<ICommandHandler<MakeTransfer, Outcome<TransferResult>>, MakeTransferHandler>();
        services.AddScoped<ICommandHandler<ResolveTransfer, Outcome<TransferResult>>, ResolveTransferHandler>();
        return builder;
    }

    public static WebApplicationBuilder AddTallyFeatures(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<NotificationHub>();
        // With Cache:Redis, notifications fan out to every instance over Redis pub/sub (see Cache/).
        builder.Services.AddSingleton<INotificationPublisher>(sp => Cache.CacheSetup.UsesRedis(sp)
            ? sp.GetRequiredService<Cache.RedisNotificationPublisher>()
            : sp.GetRequiredService<NotificationHub>());
        // The hold-expiry sweep is a write: it runs where the workers run (Role=worker or all), not on api instances.
        builder.Services.AddHostedService<WorkerRoleHostedService<HoldExpiryService>>();
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
