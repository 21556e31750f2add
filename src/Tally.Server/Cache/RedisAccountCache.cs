using StackExchange.Redis;

namespace Tally.Server.Cache;

/// <summary>
/// The account versions in Redis, shared by every instance. A write bumps the account's version in Redis
/// (INCR) after commit and before it returns; cached me/balance entries are keyed by that version (and by a
/// global epoch), so an entry stored by a read that raced a write is never found again, on any instance,
/// L1 or L2. The readers' own in-process cache is off here: <see cref="CachedLedgerReader"/> does the caching.
///
/// If an INCR can't be done (Redis down, failover), the instance marks itself dirty: its reads skip the cache
/// until it has bumped the global epoch, which retires every cached account entry at once. A lost connection
/// marks it dirty too, because a failover can lose the last INCRs that the old master never replicated.
/// </summary>
public sealed class RedisAccountCache : IAccountCache
{
    private readonly RedisConnection _redis;
    private readonly ILogger<RedisAccountCache> _logger;
    private int _dirty;
    private int _retiring;

    public RedisAccountCache(RedisConnection redis, ILogger<RedisAccountCache> logger)
    {
        ArgumentNullException.ThrowIfNull(redis);
        _redis = redis;
        _logger = logger;
        redis.ConnectionFailed += () =>
        {
            Volatile.Write(ref _dirty, 1);
            RetireAllSoon();
        };
        redis.ConnectionRestored += () =>
        {
            if (Volatile.Read(ref _dirty) == 1)
            {
                RetireAllSoon();
            }
        };
    }

    public RedisKey VersionKey(long accountId) => _redis.Prefix + "acct:ver:" + accountId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public RedisKey EpochKey => _redis.Prefix + "acct:epoch";

    public long Version(long accountId) => 0;

    public bool TryGet(long accountId, out UserView? user, out BalanceView? balance)
    {
        user = null;
        balance = null;
        return false;
    }

    public void Store(long accountId, long version, UserView user, long held)
    {
    }

    public async Task InvalidateAsync(long accountId)
    {
        if (_redis.Database is { } db)
        {
            try
            {
                await db.StringIncrementAsync(VersionKey(accountId)).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                _logger.LogWarning("Could not bump the cached version of account {Account}: {Message}", accountId, ex.Message);
            }
        }
        Volatile.Write(ref _dirty, 1);
        RetireAllSoon();
    }

    // The other instances may still trust their entries for this account: bump the epoch as soon as Redis takes it,
    // without waiting for this instance's next read.
    private void RetireAllSoon()
    {
        if (Interlocked.Exchange(ref _retiring, 1) == 1)
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                for (var attempt = 0; attempt < 600 && Volatile.Read(ref _dirty) == 1; attempt++)
                {
                    if (_redis.Database is { } db)
                    {
                        try
                        {
                            Volatile.Write(ref _dirty, 0);
                            await db.StringIncrementAsync(EpochKey);
                            return;
                        }
                        catch (Exception ex) when (ex is RedisException or TimeoutException)
                        {
                            Volatile.Write(ref _dirty, 1);
                        }
                    }
                    await Task.Delay(200);
                }
            }
            finally
            {
                Volatile.Write(ref _retiring, 0);
            }
        });
    }

    /// <summary>
    /// The stamp under which account <paramref name="accountId"/> may be cached now, or null when the cache must be
    /// skipped (Redis unreachable, or this instance still owes an epoch bump).
    /// </summary>
    public async Task<string?> StampAsync(long accountId)
    {
        if (_redis.Database is not { } db)
        {
            return null;
        }
        try
        {
            if (Volatile.Read(ref _dirty) == 1)
            {
                Volatile.Write(ref _dirty, 0);
                await db.StringIncrementAsync(EpochKey);
            }
            var values = await db.StringGetAsync([VersionKey(accountId), EpochKey]);
            return $"{(long?)values[1] ?? 0}.{(long?)values[0] ?? 0}";
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Volatile.Write(ref _dirty, 1);
            _logger.LogDebug("Redis did not answer a version read: {Message}", ex.Message);
            return null;
        }
    }
}
