using Tally.Ha.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tally.Ha.Tests;

/// <summary>The three-node RabbitMQ cluster with quorum queues under a transfer load.</summary>
[Collection(HaCollection.Name)]
public sealed class RabbitMqFailoverTests(HaCluster cluster, ITestOutputHelper output)
{
    [Fact]
    public async Task Killing_a_rabbitmq_node_keeps_commands_flowing_within_10_s_and_applies_each_once()
    {
        var load = await cluster.StartLoadAsync("rk");
        await using (load)
        {
            var queues = await cluster.MustRunAsync("rabbitmqctl", "list_queues", "-p", "tally", "name", "type", "leader");
            output.WriteLine(queues);
            Assert.Contains("quorum", queues, StringComparison.Ordinal);
            // Node 1: the node Tally's connections and the queues' leaders are on (each declared there first).
            var killed = await cluster.MustRunAsync("kill-rabbitmq-node", "1");
            var at = DateTime.UtcNow;
            output.WriteLine($"killed rabbit{killed} after {load.Acknowledged.Count} acknowledged transfers");
            var back = await load.FirstAcknowledgedSentAfterAsync(at, TimeSpan.FromSeconds(10));
            output.WriteLine($"first transfer sent after the kill and acknowledged: {back?.TotalSeconds:F1} s after it");
            Assert.True(back is { } b && b <= TimeSpan.FromSeconds(10), $"no transfer sent after the kill was acknowledged within 10 s ({back?.TotalSeconds:F1} s); {load.Describe()}");
            await load.StopAfterAsync(100);
        }
        await LedgerChecks.AssertExactlyOnceAsync(cluster, load, output);
        await cluster.UpAsync();
    }
}
