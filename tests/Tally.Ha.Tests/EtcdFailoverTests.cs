using Npgsql;
using Tally.Ha.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tally.Ha.Tests;

/// <summary>The three-member etcd cluster Patroni keeps its leader key in, under a transfer load.</summary>
[Collection(HaCollection.Name)]
public sealed class EtcdFailoverTests(HaCluster cluster, ITestOutputHelper output)
{
    // A lost leader key would cost at least the ttl (8 s) before a new primary; a pause this long is not routine.
    private static readonly TimeSpan s_longestPause = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_watched = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Killing_an_etcd_member_keeps_the_primary_and_writes_acknowledged_with_each_transfer_applied_once()
    {
        await cluster.MustRunAsync("up", "--ha");
        var leader = await cluster.MustRunAsync("postgres-primary");
        var timeline = await TimelineAsync();
        var users = await cluster.RegisterAsync(8);
        var load = new TransferLoad(cluster.Api.BaseAddress, users, "ek" + Guid.NewGuid().ToString("N")[..8]);
        await using (load)
        {
            await load.WaitForAcknowledgedAsync(150);
            // With no member named, the etcd leader: the other two must elect a new one while Patroni renews its key.
            var killed = await cluster.MustRunAsync("kill-etcd-member");
            var at = DateTime.UtcNow;
            output.WriteLine($"killed etcd{killed} after {load.Acknowledged.Count} acknowledged transfers");

            var back = await load.FirstAcknowledgedSentAfterAsync(at, s_longestPause);
            output.WriteLine($"first transfer sent after the kill and acknowledged: {back?.TotalSeconds:F2} s after it");
            Assert.True(back is { } b && b <= s_longestPause, $"no transfer sent after the kill was acknowledged within {s_longestPause.TotalSeconds} s; {load.Describe()}");
            var until = at + s_watched;
            if (until > DateTime.UtcNow)
            {
                await Task.Delay(until - DateTime.UtcNow);
            }
            var pause = LongestPause(load, at, until);
            output.WriteLine($"longest pause between acknowledgements in the {s_watched.TotalSeconds} s after the kill: {pause.TotalSeconds:F2} s");
            Assert.True(pause <= s_longestPause, $"writes paused {pause.TotalSeconds:F1} s after an etcd member died; {load.Describe()}");

            Assert.Equal(leader, await cluster.MustRunAsync("postgres-primary"));
            Assert.Equal(timeline, await TimelineAsync());
            var status = await cluster.RunAsync(TimeSpan.FromSeconds(30), "status");
            output.WriteLine(status.Stdout);
            Assert.Contains($"etcd-{killed}", status.Stdout.Split('\n').Single(l => l.Contains("stopped", StringComparison.Ordinal)), StringComparison.Ordinal);
            var count = load.Acknowledged.Count;
            await load.WaitForAcknowledgedAsync(count + 100);
            await load.StopAsync();
        }
        await LedgerChecks.AssertExactlyOnceAsync(cluster, load, output);

        // up restarts the member, which rejoins the other two from its own data folder.
        await cluster.MustRunAsync("up", "--ha");
        await cluster.MustRunAsync("status");
    }

    /// <summary>The longest time in [from, to] with no acknowledgement: between two answers, or from an end of the span.</summary>
    private static TimeSpan LongestPause(TransferLoad load, DateTime from, DateTime to)
    {
        var answers = load.Acknowledged.Values.Select(a => a.Answered).Where(a => a >= from && a <= to).Order().ToList();
        var longest = TimeSpan.Zero;
        var previous = from;
        foreach (var answered in answers.Append(to))
        {
            longest = answered - previous > longest ? answered - previous : longest;
            previous = answered;
        }
        return longest;
    }

    /// <summary>The primary's timeline: a promotion, even of the same node after it lost its key, starts a new one.</summary>
    private async Task<string> TimelineAsync()
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                await using var db = new NpgsqlConnection(cluster.Postgres + ";Pooling=false");
                await db.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)", db);
                return (string)(await command.ExecuteScalarAsync())!;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(500);
            }
        }
    }
}
