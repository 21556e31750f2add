using System.Diagnostics.Metrics;

namespace Tally.Server.Cache;

/// <summary>Cache reads by kind (me, balance, lookup with Redis; account for the embedded in-memory cache) and result (hit, miss, bypass when Redis is unreachable): tally_cache_reads_total.</summary>
public sealed class CacheMetrics
{
    public const string MeterName = "Tally.Cache";

    private readonly Counter<long> _reads;
    private long _hits;
    private long _bypasses;

    public CacheMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _reads = meterFactory.Create(MeterName).CreateCounter<long>("tally.cache.reads", unit: "{read}", description: "Cached reads by kind and result (hit, miss, bypass)");
    }

    public long Hits => Interlocked.Read(ref _hits);

    public long Bypasses => Interlocked.Read(ref _bypasses);

    public void Hit(string kind)
    {
        Interlocked.Increment(ref _hits);
        Record(kind, "hit");
    }

    public void Miss(string kind)
    {
        Record(kind, "miss");
    }

    public void Bypass(string kind)
    {
        Interlocked.Increment(ref _bypasses);
        Record(kind, "bypass");
    }

    private void Record(string kind, string result) =>
        _reads.Add(1, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("result", result));
}
