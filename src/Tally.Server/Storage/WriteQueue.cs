using Dapper;
using Microsoft.Data.Sqlite;

namespace Tally.Server.Storage;

/// <summary>
/// The single SQLite writer with group commit. Write operations queue here; the writer takes every
/// operation waiting, runs each inside its own savepoint of one shared transaction, and commits once.
/// A broken rule rolls back only its own savepoint. One writer means no lock ordering to get wrong:
/// opposing transfers cannot deadlock, and one fsync covers a whole batch under load.
/// </summary>
public sealed class WriteQueue(SqliteDatabase database, IOptions<StorageOptions> options, TallyMetrics metrics, TimeProvider time, ILogger<WriteQueue> logger)
    : BatchingWriter(options.Value.MaxBatch, metrics, time)
{
    // The one connection that writes, open from the start as before the first write.
    private readonly SqliteConnection _connection = database.OpenWriter();

    /// <summary>Runs <paramref name="work"/> in the writer's transaction; a <see cref="DomainException"/> becomes a failed outcome.</summary>
    public Task<Outcome<T>> ExecuteAsync<T>(Func<SqliteConnection, T> work)
    {
        var operation = new WriteOperation<T>(work);
        Enqueue(operation);
        return operation.Completion.Task;
    }

    /// <summary>
    /// Runs <paramref name="work"/> once per <paramref name="commandId"/>: the id and the outcome go into the inbox in
    /// the same transaction as the effect, and a second call with the same id returns the stored outcome and
    /// changes nothing. A broken rule is recorded too, so a redelivery answers as the first delivery did.
    /// </summary>
    public Task<Outcome<T>> ExecuteOnceAsync<T>(Guid commandId, DateTimeOffset now, Func<SqliteConnection, T> work)
    {
        var operation = new InboxWriteOperation<T>(commandId, Clock.Format(now), work);
        Enqueue(operation);
        return operation.Completion.Task;
    }

    private protected override Task RunBatchAsync(List<Write> batch)
    {
        var connection = _connection;
        try
        {
            Execute(connection, "BEGIN IMMEDIATE");
            foreach (SqliteWrite operation in batch)
            {
                Execute(connection, "SAVEPOINT op");
                if (operation.Run(connection))
                {
                    Execute(connection, "RELEASE op");
                }
                else
                {
                    Execute(connection, "ROLLBACK TO op; RELEASE op");
                }
            }
            Execute(connection, "COMMIT");
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "A write batch of {Count} operations failed to commit", batch.Count);
            TryRollback(connection);
            foreach (var operation in batch)
            {
                operation.Fail(ex);
            }
            return Task.CompletedTask;
        }
        foreach (SqliteWrite operation in batch)
        {
            operation.Complete();
        }
        return Task.CompletedTask;
    }

    private protected override ValueTask StopAsync()
    {
        _connection.Dispose();
        return ValueTask.CompletedTask;
    }

    private static void TryRollback(SqliteConnection connection)
    {
        try
        {
            Execute(connection, "ROLLBACK");
        }
        catch (SqliteException)
        {
            // No transaction was open; nothing to undo.
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private abstract class SqliteWrite : Write
    {
        /// <summary>Runs the work; false when its savepoint must be rolled back.</summary>
        public abstract bool Run(SqliteConnection connection);

        public abstract void Complete();
    }

    // The outcome of a write, or the exception it threw, handed to its caller once the batch has committed.
    private abstract class SqliteWrite<T> : SqliteWrite
    {
        private protected Outcome<T>? _outcome;
        private protected Exception? _error;

        public TaskCompletionSource<Outcome<T>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Complete()
        {
            if (_error is not null)
            {
                Completion.TrySetException(_error);
            }
            else
            {
                Completion.TrySetResult(_outcome!);
            }
        }

        public override void Fail(Exception exception) => Completion.TrySetException(exception);
    }

    private sealed class WriteOperation<T>(Func<SqliteConnection, T> work) : SqliteWrite<T>
    {
        public override bool Run(SqliteConnection connection)
        {
            try
            {
                _outcome = Outcome<T>.Ok(work(connection));
                return true;
            }
            catch (DomainException ex)
            {
                _outcome = Outcome<T>.Fail(ex.Error);
                return false;
            }
            catch (Exception ex)
            {
                _error = ex;
                return false;
            }
        }
    }

    private sealed class InboxWriteOperation<T>(Guid commandId, string at, Func<SqliteConnection, T> work) : SqliteWrite<T>
    {
        public override bool Run(SqliteConnection connection)
        {
            try
            {
                var id = commandId.ToString("D");
                // The primary key decides: the first delivery inserts, any later one finds the row.
                var inserted = connection.Execute(
                    "INSERT INTO command_inbox (command_id, created_at) VALUES (@id, @at) ON CONFLICT (command_id) DO NOTHING", new { id, at });
                if (inserted == 0)
                {
                    var stored = connection.QuerySingle<string?>("SELECT outcome FROM command_inbox WHERE command_id = @id", new { id });
                    _outcome = (Outcome<T>)Bus.BusJson.Deserialize(System.Text.Encoding.UTF8.GetBytes(stored ?? "null"), typeof(Outcome<T>))!;
                    return true;
                }
                Execute(connection, "SAVEPOINT effect");
                try
                {
                    _outcome = Outcome<T>.Ok(work(connection));
                    Execute(connection, "RELEASE effect");
                }
                catch (DomainException ex)
                {
                    // The rule's effect is undone, its outcome is still recorded.
                    Execute(connection, "ROLLBACK TO effect; RELEASE effect");
                    _outcome = Outcome<T>.Fail(ex.Error);
                }
                var json = System.Text.Encoding.UTF8.GetString(Bus.BusJson.Serialize(_outcome, typeof(Outcome<T>)));
                connection.Execute("UPDATE command_inbox SET outcome = @json WHERE command_id = @id", new { json, id });
                return true;
            }
            catch (Exception ex)
            {
                _error = ex;
                return false;
            }
        }
    }
}
