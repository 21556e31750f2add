using System.Diagnostics;
using System.Globalization;
using Tally.Ha.Tests.Infrastructure;
using Tally.Testing;
using Xunit.Abstractions;

namespace Tally.Ha.Tests;

/// <summary>The Patroni cluster under a transfer load: the primary killed, rejoining, and cut off.</summary>
[Collection(HaCollection.Name)]
public sealed class PostgresFailoverTests(HaCluster cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task Killing_the_primary_lets_a_replica_take_over_within_15_s_with_no_acknowledged_transfer_lost()
    {
        var load = await cluster.StartLoadAsync("pk");
        await using (load)
        {
            var killed = await cluster.MustRunAsync("kill-postgres-primary");
            var at = DateTime.UtcNow;
            output.WriteLine($"killed pg{killed} after {load.Acknowledged.Count} acknowledged transfers");

            var back = await load.FirstAcknowledgedSentAfterAsync(at, TimeSpan.FromSeconds(15));
            output.WriteLine($"first transfer sent after the kill and acknowledged: {back?.TotalSeconds:F1} s after it");
            Assert.True(back is { } b && b <= TimeSpan.FromSeconds(15), $"no transfer sent after the kill was acknowledged within 15 s ({back?.TotalSeconds:F1} s); {load.Describe()}");
            var leader = await cluster.MustRunAsync("postgres-primary");
            Assert.NotEqual(killed, leader);
            await load.StopAfterAsync(100);
        }
        await LedgerChecks.AssertExactlyOnceAsync(cluster, load, output);
    }

    [Fact]
    public async Task The_killed_primary_rejoins_as_a_replica_by_pg_rewind_with_nothing_lost_or_doubled()
    {
        var load = await cluster.StartLoadAsync("pr");
        int port;
        await using (load)
        {
            var killed = int.Parse(await cluster.MustRunAsync("kill-postgres-primary"), CultureInfo.InvariantCulture);
            port = cluster.PostgresPorts[killed - 1];
            var at = DateTime.UtcNow;
            Assert.NotNull(await load.FirstAcknowledgedSentAfterAsync(at, TimeSpan.FromSeconds(15)));

            // The old primary comes back under load: Patroni rewinds it onto the new timeline and it follows.
            var watch = Stopwatch.StartNew();
            await cluster.UpAsync();
            output.WriteLine($"pg{killed} rejoined in {watch.Elapsed.TotalSeconds:F1} s");
            var list = await cluster.MustRunAsync("patronictl", "list");
            output.WriteLine(list);
            var row = list.Split('\n').Single(l => l.Contains($"| pg{killed} ", StringComparison.Ordinal));
            Assert.Contains("running", row, StringComparison.Ordinal);
            Assert.DoesNotContain("Leader", row, StringComparison.Ordinal);
            await load.StopAfterAsync(100);
        }
        await LedgerChecks.AssertExactlyOnceAsync(cluster, load, output);

        // The rejoined node itself (a hot standby now) holds every acknowledged transfer, once.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        Dictionary<string, long> replica;
        do
        {
            replica = await PostgresLedger.AppliedAsync(cluster.Node(port), load.Prefix);
        }
        while (load.Acknowledged.Keys.Any(k => !replica.ContainsKey(k)) && DateTime.UtcNow < until && await Delay());
        Assert.All(replica, a => Assert.Equal(1, a.Value));
        Assert.All(load.Acknowledged.Keys, k => Assert.True(replica.ContainsKey(k), $"{k} is missing on the rejoined node"));
    }

    [Fact]
    public async Task A_primary_cut_off_from_the_cluster_acknowledges_no_transfer_that_is_then_lost()
    {
        var load = await cluster.StartLoadAsync("pp");
        await using (load)
        {
            var cut = await cluster.MustRunAsync("partition-postgres-primary");
            var cutAt = DateTime.UtcNow;
            output.WriteLine($"pg{cut} cut off from etcd and the other nodes after {load.Acknowledged.Count} acknowledged transfers");
            try
            {
                // The others elect a new leader once the old one's key expires (ttl 8 s); the old postgres still runs
                // and Tally can still reach it (the cut is between the database nodes, not in front of them). Leave
                // the partition in place well past the promotion.
                var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                string leader;
                do
                {
                    await Task.Delay(500);
                    leader = (await cluster.RunAsync(TimeSpan.FromSeconds(30), "postgres-primary")).Stdout.Trim();
                }
                while ((leader == cut || leader.Length == 0) && DateTime.UtcNow < until);
                output.WriteLine($"new leader pg{leader}, seen {(DateTime.UtcNow - cutAt).TotalSeconds:F1} s after the cut");
                Assert.NotEqual(cut, leader);

                // The cut leader demotes itself: it can renew its key in etcd no more than it can reach every other
                // member (what failsafe_mode would need to keep it), so no two primaries take writes for long.
                var demotedBy = DateTime.UtcNow + TimeSpan.FromSeconds(20);
                string cutRole;
                do
                {
                    await Task.Delay(500);
                    cutRole = RoleOf((await cluster.RunAsync(TimeSpan.FromSeconds(30), "status")).Stdout, cut);
                }
                while ((IsPrimary(cutRole) || cutRole == "?") && DateTime.UtcNow < demotedBy);
                output.WriteLine($"pg{cut}'s role while cut off: {cutRole}, {(DateTime.UtcNow - cutAt).TotalSeconds:F1} s after the cut");
                Assert.False(IsPrimary(cutRole) || cutRole == "?", $"pg{cut}'s role is {cutRole} 20 s after a new leader took over");
                await Task.Delay(TimeSpan.FromSeconds(5));
            }
            finally
            {
                await cluster.MustRunAsync("heal-postgres");
            }
            var healed = DateTime.UtcNow;
            await cluster.UpAsync();
            Assert.NotNull(await load.FirstAcknowledgedSentAfterAsync(healed, TimeSpan.FromSeconds(30)));
            await load.StopAfterAsync(100);
        }
        await LedgerChecks.AssertExactlyOnceAsync(cluster, load, output);
    }

    // The role that `status` reports for node n ("postgres-2   running  patroni pid ... role replica").
    private static string RoleOf(string status, string n) =>
        status.Split('\n').FirstOrDefault(l => l.StartsWith($"postgres-{n} ", StringComparison.Ordinal)) is { } line
            && line.LastIndexOf(" role ", StringComparison.Ordinal) is var at and >= 0
            ? line[(at + " role ".Length)..].Trim()
            : "?";

    private static bool IsPrimary(string role) => role is "master" or "primary";

    private static async Task<bool> Delay()
    {
        await Task.Delay(500);
        return true;
    }
}
