using Xunit.Abstractions;

namespace Tally.Ha.Tests.Infrastructure;

public static class LedgerChecks
{
    /// <summary>
    /// After a stopped load: no request was answered 500 or refused for good, every transfer answered 200 is in
    /// the ledger exactly once, no transfer is in it twice, and the money audit is ok.
    /// </summary>
    public static async Task AssertExactlyOnceAsync(HaCluster cluster, TransferLoad load, ITestOutputHelper output)
    {
        output.WriteLine($"load {load.Prefix}: {load.Describe()}");
        Assert.Empty(load.Failures);
        Assert.Empty(load.Unresolved);
        Assert.False(load.Statuses.ContainsKey(500), "a request was answered 500");
        var applied = await cluster.AppliedAsync(load.Prefix);
        Assert.All(applied, a => Assert.True(a.Value == 1, $"{a.Key} is in the ledger {a.Value} times"));
        var lost = load.Acknowledged.Keys.Where(k => !applied.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} transfers answered 200 are not in the ledger: {string.Join(", ", lost.Take(20))}");
        var audit = await cluster.AuditAsync();
        Assert.True(audit.GetProperty("ok").GetBoolean(), audit.ToString());
        output.WriteLine($"ledger: {applied.Count} transfers of {load.Prefix}, each once; {load.Acknowledged.Count} acknowledged, all present; audit ok");
    }
}
