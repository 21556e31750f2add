using System.Collections.Concurrent;
using Tally.Server.Cache;

namespace Tally.Server.Storage;

/// <summary>
/// The embedded in-memory cache of hot account reads (me, balance). Every write that changes an
/// account bumps its version after commit and before the write returns, and a cached value is
/// served only while its version is current: a read that raced a write can store a value, but
/// never serve it, so no read is stale once the write has returned.
/// </summary>
public sealed class AccountReadCache(CacheMetrics? metrics = null) : IAccountCache
{
    private const int MaxEntries = 200_000;

    private readonly ConcurrentDictionary<long, long> _versions = new();
    private readonly ConcurrentDictionary<long, Entry> _entries = new();

    /// <summary>The version to pass to <see cref="Store"/>; read it before reading the database.</summary>
    public long Version(long accountId) => _versions.GetValueOrDefault(accountId);

    public bool TryGet(long accountId, out UserView? user, out BalanceView? balance)
    {
        if (_entries.TryGetValue(accountId, out var entry) && entry.Version == Version(accountId))
        {
            user = entry.User;
            balance = entry.Balance;
            metrics?.Hit("account");
            return true;
        }
        metrics?.Miss("account");
        user = null;
        balance = null;
        return false;
    }

    public void Store(long accountId, long version, UserView user, long held)
    {
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }
        _entries[accountId] = new Entry(version, user, new BalanceView(user.Balance, user.Balance - held));
    }

    public Task InvalidateAsync(long accountId)
    {
        _versions.AddOrUpdate(accountId, 1, static (_, v) => v + 1);
        _entries.TryRemove(accountId, out _);
        return Task.CompletedTask;
    }

    private sealed record Entry(long Version, UserView User, BalanceView Balance);
}
