using Microsoft.Data.Sqlite;

namespace Tally.Server.Storage;

/// <summary>The embedded SQLite database: file location, pooled read connections, and migrations at start-up.</summary>
public sealed class SqliteDatabase : IDatabaseMigrator
{
    private readonly string _connectionString;
    private readonly string _synchronous;

    public SqliteDatabase(IOptions<StorageOptions> options)
    {
        var o = options.Value;
        var folder = Path.GetFullPath(o.DataDirectory);
        Directory.CreateDirectory(folder);
        FilePath = Path.Combine(folder, o.FileName);
        DataDirectory = folder;
        _synchronous = o.Synchronous.ToUpperInvariant() switch
        {
            "OFF" => "OFF",
            "NORMAL" => "NORMAL",
            "EXTRA" => "EXTRA",
            _ => "FULL",
        };
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
            ForeignKeys = true,
        }.ToString();
    }

    public string Name => "sqlite";

    public string FilePath { get; }

    public string DataDirectory { get; }

    public SqliteConnection OpenConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Opens the one connection that writes; WAL lets readers go on while it commits.</summary>
    public SqliteConnection OpenWriter()
    {
        var connection = OpenConnection();
        Execute(connection, $"PRAGMA journal_mode = WAL; PRAGMA synchronous = {_synchronous}; PRAGMA busy_timeout = 30000;");
        return connection;
    }

    public void Migrate()
    {
        using var connection = OpenWriter();
        using var tx = connection.BeginTransaction(System.Data.IsolationLevel.Serializable);
        var version = Convert.ToInt32(Scalar(connection, tx, "PRAGMA user_version"), System.Globalization.CultureInfo.InvariantCulture);
        for (var i = version; i < Schema.Migrations.Length; i++)
        {
            using var command = connection.CreateCommand();
            command.Transaction = tx;
            command.CommandText = Schema.Migrations[i] + $"\nPRAGMA user_version = {i + 1};";
            command.ExecuteNonQuery();
        }
        tx.Commit();
    }

    private static object? Scalar(SqliteConnection connection, SqliteTransaction tx, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
