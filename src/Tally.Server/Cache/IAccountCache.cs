namespace Tally.Server.Storage;

/// <summary>
/// The seam between the stores and the cache of hot account reads (me, balance). The stores call
/// <see cref="InvalidateAsync"/> after commit and before the write returns; the readers call the other three.
/// Embedded: <see cref="AccountReadCache"/> (versioned, in memory). With <c>Cache:Redis</c>:
/// <see cref="Cache.RedisAccountCache"/>, which keeps the versions in Redis and leaves the caching to
/// <see cref="Cache.CachedLedgerReader"/> (HybridCache with Redis as its second level).
/// </summary>
public interface IAccountCache
{
    /// <summary>The version to pass to <see cref="Store"/>; read it before reading the database.</summary>
    long Version(long accountId);

    bool TryGet(long accountId, out UserView? user, out BalanceView? balance);

    void Store(long accountId, long version, UserView user, long held);

    /// <summary>Called after commit and before the write returns: no read after it may serve the old value.</summary>
    /// <remarks>Asynchronous, because a networked cache must not block a thread-pool thread per write under load.</remarks>
    Task InvalidateAsync(long accountId);
}
