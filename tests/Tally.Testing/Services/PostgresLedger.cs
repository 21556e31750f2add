using Npgsql;

namespace Tally.Testing;

/// <summary>Reads Tally's ledger straight from PostgreSQL, behind the api's back.</summary>
public static class PostgresLedger
{
    private static readonly TimeSpan s_retryBudget = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How many times each transfer whose note starts with <paramref name="prefix"/><c>-</c> is in the ledger; retried
    /// for 60 s while the server does not answer (a restart, a failover).
    /// </summary>
    public static async Task<Dictionary<string, long>> AppliedAsync(string connectionString, string prefix)
    {
        var until = DateTime.UtcNow + s_retryBudget;
        while (true)
        {
            try
            {
                var applied = new Dictionary<string, long>(StringComparer.Ordinal);
                await using var db = new NpgsqlConnection(connectionString + ";Pooling=false");
                await db.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT note, count(*) FROM transfers WHERE note LIKE $1 GROUP BY note", db);
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = prefix + "-%" });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    applied[reader.GetString(0)] = reader.GetInt64(1);
                }
                return applied;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(500);
            }
        }
    }
}
