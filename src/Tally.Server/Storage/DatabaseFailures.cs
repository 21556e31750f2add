using System.Data.Common;

namespace Tally.Server.Storage;

/// <summary>
/// Tells an outage of the database (down, restarting, failing over, or a commit whose outcome is unknown) from a
/// bug. An outage is answered 503 with <c>Retry-After</c>: the write may or may not have been applied, and a
/// retry with the same <c>Idempotency-Key</c> resolves it exactly once.
/// </summary>
public static class DatabaseFailures
{
    public static bool IsUnavailable(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is DbException { IsTransient: true } or System.Net.Sockets.SocketException or IOException or TimeoutException)
            {
                return true;
            }
            // Npgsql's own errors, as opposed to the server's (PostgresException): no host could be reached or is
            // primary ("No suitable host was found" during a failover), a broken connection, a timeout.
            if (e is Npgsql.NpgsqlException and not Npgsql.PostgresException)
            {
                return true;
            }
            if (e is DbException { SqlState: { } state } && IsOutageState(state))
            {
                return true;
            }
        }
        return false;
    }

    // 08: connection exceptions; 57P01-57P05: shut down, crash, starting up, idle or session timeouts;
    // 25006: a write on a node that is (now) a standby, as during a failover.
    private static bool IsOutageState(string state) =>
        state.StartsWith("08", StringComparison.Ordinal)
        || state.StartsWith("57P", StringComparison.Ordinal)
        || state == "25006";
}

/// <summary>
/// The database answered a commit but warned that it had stopped waiting for its synchronous standby: the
/// transaction is committed on the primary alone and may be lost at a failover. It is never reported as done.
/// </summary>
public sealed class CommitInDoubtException(string message) : DbException(message)
{
    public override bool IsTransient => true;
}
