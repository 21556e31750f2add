using Npgsql;
using NpgsqlTypes;

namespace Tally.Server.Storage.Postgres;

/// <summary>
/// The PostgreSQL writer with group commit. Write operations queue here; one dedicated connection takes every
/// operation waiting (up to <see cref="StorageOptions.MaxBatch"/>) and sends them in one round trip as one
/// <see cref="NpgsqlBatch"/>: an implicit transaction that commits once at its end. Each operation is one call
/// of a PL/pgSQL function that returns its business failure as a code, so each keeps its own outcome. Every
/// batch first takes a transaction-scoped advisory lock, so that the writers of several instances commit
/// their batches one after another and never deadlock on each other's row locks. If a statement raises (a
/// bug or a constraint the functions do not foresee), the transaction has applied nothing, and the batch's
/// operations run again one by one so that only the culprit fails. A batch whose commit the server answered with a
/// warning that it stopped waiting for the synchronous standby is in doubt (on the primary alone) and fails as
/// unavailable, never as done; so does a batch whose connection broke before the commit's answer.
/// </summary>
public sealed class PostgresWriteQueue(PostgresDatabase database, IOptions<StorageOptions> options, TallyMetrics metrics, TimeProvider time, ILogger<PostgresWriteQueue> logger)
    : BatchingWriter(options.Value.MaxBatch, metrics, time)
{
    private const int MaxAttempts = 3;
    private static readonly string s_lockSql = $"SELECT 1 FROM pg_advisory_xact_lock({PostgresSchema.WriterLockKey})";

    private NpgsqlConnection? _connection;
    private string? _syncReplicationWarning;

    /// <summary>Runs one statement in the next batch; returns its rows, each mapped by <paramref name="map"/>, after commit.</summary>
    public Task<IReadOnlyList<T>> ExecuteAsync<T>(string sql, PgArg[] args, Func<NpgsqlDataReader, T> map)
    {
        var write = new PgWrite<T>(sql, args, map);
        Enqueue(write);
        return write.Completion.Task;
    }

    private protected override Task RunBatchAsync(List<Write> batch) => RunAsync([.. batch.Cast<IPgWrite>()]);

    private protected override async ValueTask StopAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task RunAsync(List<IPgWrite> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ExecuteAsync(batch).ConfigureAwait(false);
                foreach (var write in batch)
                {
                    write.Complete();
                }
                return;
            }
            catch (PostgresException ex) when (IsRetryable(ex) && attempt < MaxAttempts)
            {
                logger.LogWarning(ex, "A write batch of {Count} operations was rolled back ({SqlState}); running it again", batch.Count, ex.SqlState);
            }
            catch (PostgresException ex) when (batch.Count > 1 && IsConnectionUsable())
            {
                // Nothing of the batch was applied: run each operation alone, so that only the culprit fails.
                logger.LogWarning(ex, "A write batch of {Count} operations failed ({SqlState}); running its operations one by one", batch.Count, ex.SqlState);
                foreach (var write in batch)
                {
                    await RunAsync([write]).ConfigureAwait(false);
                }
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "A write batch of {Count} operations failed", batch.Count);
                if (!IsConnectionUsable() || ex is CommitInDoubtException)
                {
                    await ResetConnectionAsync().ConfigureAwait(false);
                    // The server went away (a crash, a failover): the pooled connections to it are dead too.
                    database.DataSource.Clear();
                }
                foreach (var write in batch)
                {
                    write.Fail(ex);
                }
                return;
            }
        }
    }

    private async Task ExecuteAsync(List<IPgWrite> writes)
    {
        var connection = await ConnectionAsync().ConfigureAwait(false);
        _syncReplicationWarning = null;
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(s_lockSql));
        foreach (var write in writes)
        {
            write.Reset();
            batch.BatchCommands.Add(write.CreateCommand());
        }
        await using (var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false))
        {
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                // The advisory lock's row.
            }
            foreach (var write in writes)
            {
                if (!await reader.NextResultAsync().ConfigureAwait(false))
                {
                    throw new InvalidOperationException("A write batch returned fewer results than it has statements.");
                }
                while (await reader.ReadAsync().ConfigureAwait(false))
                {
                    write.OnRow(reader);
                }
            }
            // Reads up to the end of the batch, where its transaction commits; a failed commit throws here.
            while (await reader.NextResultAsync().ConfigureAwait(false))
            {
            }
        }
        if (_syncReplicationWarning is { } warning)
        {
            throw new CommitInDoubtException($"The commit is not confirmed by a synchronous standby: {warning}");
        }
    }

    private async Task<NpgsqlConnection> ConnectionAsync()
    {
        if (_connection is { State: System.Data.ConnectionState.Open })
        {
            return _connection;
        }
        await ResetConnectionAsync().ConfigureAwait(false);
        _connection = await database.DataSource.OpenConnectionAsync().ConfigureAwait(false);
        _connection.Notice += OnNotice;
        return _connection;
    }

    // "canceling wait for synchronous replication ...": the server ended the commit's wait for its standby
    // (a cancel or a shutdown) and answers the commit as if it were done, though it is on this node alone.
    private void OnNotice(object sender, NpgsqlNoticeEventArgs args)
    {
        if (args.Notice.MessageText.Contains("synchronous replication", StringComparison.OrdinalIgnoreCase))
        {
            _syncReplicationWarning = args.Notice.MessageText;
        }
    }

    private bool IsConnectionUsable() => _connection is { FullState: System.Data.ConnectionState.Open };

    private async Task ResetConnectionAsync()
    {
        if (_connection is not null)
        {
            try
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException)
            {
                logger.LogDebug(ex, "Closing a broken writer connection failed");
            }
            _connection = null;
        }
    }

    // Deadlocks and serialization failures roll back the whole batch, which may then run again as it is.
    private static bool IsRetryable(PostgresException ex) =>
        ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure;

    private interface IPgWrite
    {
        NpgsqlBatchCommand CreateCommand();

        void Reset();

        void OnRow(NpgsqlDataReader reader);

        void Complete();

        void Fail(Exception exception);
    }

    private sealed class PgWrite<T>(string sql, PgArg[] args, Func<NpgsqlDataReader, T> map) : Write, IPgWrite
    {
        private List<T> _rows = [];

        public TaskCompletionSource<IReadOnlyList<T>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public NpgsqlBatchCommand CreateCommand()
        {
            var command = new NpgsqlBatchCommand(sql);
            foreach (var arg in args)
            {
                command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = arg.Type, Value = arg.Value ?? DBNull.Value });
            }
            return command;
        }

        public void Reset() => _rows = [];

        public void OnRow(NpgsqlDataReader reader) => _rows.Add(map(reader));

        public void Complete() => Completion.TrySetResult(_rows);

        public override void Fail(Exception exception) => Completion.TrySetException(exception);
    }
}

/// <summary>A positional parameter of a queued write.</summary>
public readonly record struct PgArg(object? Value, NpgsqlDbType Type)
{
    public static PgArg Bigint(long? value) => new(value, NpgsqlDbType.Bigint);

    public static PgArg Text(string? value) => new(value, NpgsqlDbType.Text);

    public static PgArg Bool(bool value) => new(value, NpgsqlDbType.Boolean);

    public static PgArg Int(int value) => new(value, NpgsqlDbType.Integer);

    public static PgArg TextArray(string[] value) => new(value, NpgsqlDbType.Array | NpgsqlDbType.Text);

    public static PgArg Uuid(Guid value) => new(value, NpgsqlDbType.Uuid);
}
