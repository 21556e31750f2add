using Npgsql;
using Tally.Server.Storage;

namespace Tally.Server.Tests.Storage;

public sealed class DatabaseFailuresTests
{
    [Fact]
    public void No_suitable_host_during_a_failover_is_an_outage()
    {
        Assert.True(DatabaseFailures.IsUnavailable(new NpgsqlException("No suitable host was found.")));
    }

    [Fact]
    public void A_commit_the_sync_standby_did_not_confirm_is_an_outage()
    {
        Assert.True(DatabaseFailures.IsUnavailable(new CommitInDoubtException("canceling wait for synchronous replication")));
    }

    [Theory]
    [InlineData("25006")]
    [InlineData("57P01")]
    [InlineData("57P03")]
    [InlineData("08006")]
    public void A_server_error_of_a_failover_or_shutdown_is_an_outage(string sqlState)
    {
        var inner = new PostgresException("gone", "FATAL", "FATAL", sqlState);
        Assert.True(DatabaseFailures.IsUnavailable(new InvalidOperationException("wrapped", inner)));
    }

    [Theory]
    [InlineData("23505")]
    [InlineData("42601")]
    public void A_server_error_of_a_bug_or_constraint_is_not_an_outage(string sqlState)
    {
        Assert.False(DatabaseFailures.IsUnavailable(new PostgresException("bad", "ERROR", "ERROR", sqlState)));
    }

    [Fact]
    public void An_ordinary_exception_is_not_an_outage()
    {
        Assert.False(DatabaseFailures.IsUnavailable(new InvalidOperationException("bug")));
    }
}
