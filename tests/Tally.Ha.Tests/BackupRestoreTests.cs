using Tally.Ha.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tally.Ha.Tests;

/// <summary>The restore drill: a pgBackRest backup taken under load, the cluster destroyed, a new one restored from it.</summary>
[Collection(RestoreDrillCollection.Name)]
public sealed class BackupRestoreTests(HaCluster cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task A_cluster_restored_from_the_backup_and_the_WAL_archive_holds_every_acknowledged_transfer_once_with_an_ok_audit()
    {
        var load = await cluster.StartLoadAsync("br");
        await using (load)
        {
            // A full backup under load, then more transfers that only the archived WAL holds.
            await cluster.MustRunAsync("backup", "full");
            var afterBackup = load.Acknowledged.Count;
            await load.WaitForAcknowledgedAsync(afterBackup + 150);
            await load.StopAsync();
            output.WriteLine($"{afterBackup} acknowledged before the backup ended, {load.Acknowledged.Count} in all");
        }
        await cluster.MustRunAsync("archive-check");

        var leader = await cluster.MustRunAsync("restore-cluster");
        output.WriteLine($"new cluster restored, leader pg{leader}");
        output.WriteLine(await cluster.MustRunAsync("patronictl", "list"));
        await LedgerChecks.AssertExactlyOnceAsync(cluster, load, output);
    }
}
