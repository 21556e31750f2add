using Microsoft.Extensions.Options;
using Tally.Server.Options;
using Tally.Server.Storage.Postgres;

namespace Tally.Server.Storage;

/// <summary>
/// The ledger's storage, SQLite (embedded) or PostgreSQL: the database and its migrator, the batching writer, the
/// store and the inbox. The database's reader is keyed <see cref="DatabaseReader"/>: the cache module decides what
/// reads through it (<see cref="Cache.CacheModule"/>).
/// </summary>
public static class StorageModule
{
    public const string DatabaseReader = "database";

    public static IServiceCollection Add(IServiceCollection services, StorageProvider provider)
    {
        ArgumentNullException.ThrowIfNull(services);
        switch (provider)
        {
            case StorageProvider.Sqlite:
                services.AddSingleton<SqliteDatabase>();
                services.AddSingleton<IDatabaseMigrator>(sp => sp.GetRequiredService<SqliteDatabase>());
                services.AddSingleton<WriteQueue>();
                services.AddSingleton<SqliteLedgerStore>();
                services.AddKeyedSingleton<ILedgerReader, SqliteLedgerReader>(DatabaseReader);
                AddStore<SqliteLedgerStore>(services);
                break;
            case StorageProvider.Postgres:
                services.AddSingleton<PostgresDatabase>();
                services.AddSingleton<IDatabaseMigrator>(sp => sp.GetRequiredService<PostgresDatabase>());
                services.AddSingleton<PostgresWriteQueue>();
                services.AddSingleton<PostgresLedgerStore>();
                services.AddKeyedSingleton<ILedgerReader, PostgresLedgerReader>(DatabaseReader);
                AddStore<PostgresLedgerStore>(services);
                // Several instances share one PostgreSQL database, so they must share the session signing key too:
                // a key generated into one instance's data folder would not verify on the others.
                services.AddOptions<AuthOptions>().Validate(
                    auth => !string.IsNullOrWhiteSpace(auth.SigningKey),
                    "Storage:Provider is Postgres, so Auth:SigningKey (base64 of at least 32 bytes) must be set: every instance must verify the sessions of the others.");
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(provider), provider, null);
        }
        services.AddOptions<StorageOptions>().Validate(
            options => options.Provider == provider,
            $"Storage:Provider changed after the host chose {provider}: it must be set before the host is built.");
        services.AddSingleton<UserDirectory>();
        return services;
    }

    private static void AddStore<TStore>(IServiceCollection services)
        where TStore : class, ILedgerStore, ICommandInbox
    {
        services.AddSingleton<ILedgerStore>(sp => sp.GetRequiredService<TStore>());
        services.AddSingleton<ICommandInbox>(sp => sp.GetRequiredService<TStore>());
    }
}
