using System.Data.Common;

namespace Tally.Server.Storage;

/// <summary>The reads of <see cref="LedgerReader"/> on pooled SQLite connections; in WAL mode they never wait for the writer.</summary>
public sealed class SqliteLedgerReader(SqliteDatabase database, IAccountCache cache) : LedgerReader(cache, SqlDialect.Sqlite)
{
    // Microsoft.Data.Sqlite runs synchronously; the async surface lets a networked store slot in.
    protected override ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult<DbConnection>(database.OpenConnection());

    // A deferred transaction reads one snapshot and takes no write lock.
    protected override ValueTask<DbTransaction> BeginSnapshotAsync(DbConnection connection) =>
        ValueTask.FromResult<DbTransaction>(((Microsoft.Data.Sqlite.SqliteConnection)connection).BeginTransaction(deferred: true));
}
