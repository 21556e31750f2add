using System.Data;
using System.Data.Common;

namespace Tally.Server.Storage.Postgres;

/// <summary>The reads of <see cref="LedgerReader"/> on pooled PostgreSQL connections; under MVCC they never wait for the writer.</summary>
public sealed class PostgresLedgerReader(PostgresDatabase database, IAccountCache cache) : LedgerReader(cache, SqlDialect.Postgres)
{
    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken = default) =>
        await database.DataSource.OpenConnectionAsync(cancellationToken);

    protected override ValueTask<DbTransaction> BeginSnapshotAsync(DbConnection connection) => connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
}
