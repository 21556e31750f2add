using Npgsql;

namespace Tally.Server.Storage.Postgres;

/// <summary>
/// The PostgreSQL database: one pooled <see cref="NpgsqlDataSource"/> from <c>ConnectionStrings:Postgres</c>, and
/// the migrations applied at start-up under an advisory lock, so that instances starting at once apply each
/// migration exactly once and the others wait for it.
/// </summary>
public sealed class PostgresDatabase : IDatabaseMigrator, IAsyncDisposable, IDisposable
{
    private readonly ILogger<PostgresDatabase> _logger;

    public PostgresDatabase(IConfiguration configuration, ILogger<PostgresDatabase> logger)
    {
        _logger = logger;
        var connectionString = configuration.GetConnectionString("Postgres");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException("Storage:Provider is Postgres, but ConnectionStrings:Postgres is not set.");
        }
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        // The transfer functions run as the same few statements over and over: prepare them once per connection.
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = 32;
        }
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            builder.ApplicationName = "tally";
        }
        // Several hosts (a Patroni cluster, Target Session Attributes=primary): after a failover, look for the new
        // primary again within a second or two instead of trusting the old host states for 10 s.
        if (builder.Host?.Contains(',', StringComparison.Ordinal) == true && !connectionString.Contains("Host Recheck", StringComparison.OrdinalIgnoreCase))
        {
            builder.HostRecheckSeconds = 1;
        }
        DataSource = new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
    }

    public NpgsqlDataSource DataSource { get; }

    public string Name => "postgres";

    public void Migrate()
    {
        using var connection = DataSource.OpenConnection();
        using var tx = connection.BeginTransaction();
        Execute(connection, tx, $"SELECT pg_advisory_xact_lock({PostgresSchema.MigrationLockKey})");
        Execute(connection, tx, "CREATE TABLE IF NOT EXISTS tally_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
        using (var read = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM tally_schema_migrations", connection, tx))
        {
            var version = Convert.ToInt32(read.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            for (var i = version; i < PostgresSchema.Migrations.Length; i++)
            {
                Execute(connection, tx, PostgresSchema.Migrations[i]);
                Execute(connection, tx, $"INSERT INTO tally_schema_migrations (version) VALUES ({i + 1})");
                _logger.LogInformation("Applied PostgreSQL migration {Version}", i + 1);
            }
        }
        tx.Commit();
    }

    private static void Execute(NpgsqlConnection connection, NpgsqlTransaction tx, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection, tx);
        command.ExecuteNonQuery();
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();

    public void Dispose() => DataSource.Dispose();
}
