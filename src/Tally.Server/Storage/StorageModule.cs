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
                AddProvider<SqliteDatabase, WriteQueue, SqliteLedgerStore, SqliteLedgerReader>(services);
                break;
            case StorageProvider.Postgres:
                AddProvider<PostgresDatabase, PostgresWriteQueue, PostgresLedgerStore, PostgresLedgerReader>(services);
                // Several instances share one PostgreSQL database, so they must share the session signing key too:
                // a key generated into one instance's data folder would not verify on the others.
                services.AddOptions<AuthOptions>().Validate(
                    auth => !string.IsNullOrWhiteSpace(auth.SigningKey),
                    "Storage:Provider is Postgres, so Auth:SigningKey (base64 of at least 32 bytes) must be set: every instance must verify the sessions of the others.");
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(provider), provider, null);
        }
        services.AddOptions<StorageOptions>().ValidateUnchanged(TallyComposition.StorageKey, provider, options => options.Provider == provider);
        services.AddSingleton<UserDirectory>();
        return services;
    }

    // A provider is its database (which migrates itself), its batching writer, its store (the inbox too) and its reader.
    private static void AddProvider<TDatabase, TWriter, TStore, TReader>(IServiceCollection services)
        where TDatabase : class, IDatabaseMigrator
        where TWriter : class
        where TStore : class, ILedgerStore, ICommandInbox
        where TReader : class, ILedgerReader
    {
        services.AddSingleton<TDatabase>();
        services.AddSingleton<IDatabaseMigrator>(sp => sp.GetRequiredService<TDatabase>());
        services.AddSingleton<TWriter>();
        services.AddSingleton<TStore>();
        services.AddSingleton<ILedgerStore>(sp => sp.GetRequiredService<TStore>());
        services.AddSingleton<ICommandInbox>(sp => sp.GetRequiredService<TStore>());
        services.AddKeyedSingleton<ILedgerReader, TReader>(DatabaseReader);
    }
}
