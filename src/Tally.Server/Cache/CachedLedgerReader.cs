using Microsoft.Extensions.Caching.Hybrid;

namespace Tally.Server.Cache;

/// <summary>
/// Reads through HybridCache (L1 in process, L2 in Redis) for me, balance and lookup; everything else goes
/// straight to the database reader. When Redis is unreachable, every read falls back to the database.
///
/// me and balance are keyed by the account's version stamp (see <see cref="RedisAccountCache"/>), read from
/// Redis on every request: a write on any instance bumps it before it returns, so neither L1 nor L2 can serve
/// a value older than the last returned write. That is why L1 may stay on for them without a pub/sub
/// invalidation: stale L1 entries are never looked up again, and expire after a minute.
/// lookup (account number → id, username) never changes once an account exists, so its entries live longer;
/// a miss (404) is never cached, so an account registered through another instance is found at once.
/// </summary>
public sealed class CachedLedgerReader([FromKeyedServices(StorageModule.DatabaseReader)] ILedgerReader inner, HybridCache cache, RedisAccountCache versions, RedisConnection redis, CacheMetrics metrics, ILogger<CachedLedgerReader> logger) : ILedgerReader
{
    private static readonly HybridCacheEntryOptions s_readOnly = new() { Flags = HybridCacheEntryFlags.DisableUnderlyingData };
    private static readonly HybridCacheEntryOptions s_account = new() { Expiration = TimeSpan.FromMinutes(5), LocalCacheExpiration = TimeSpan.FromMinutes(1) };
    private static readonly HybridCacheEntryOptions s_lookup = new() { Expiration = TimeSpan.FromHours(1), LocalCacheExpiration = TimeSpan.FromMinutes(10) };

    public async Task<UserView?> GetUserAsync(long userId) =>
        await versions.StampAsync(userId) is { } stamp
            ? await ReadThroughAsync("me", redis.Prefix + "me:" + userId + ":" + stamp, s_account, () => inner.GetUserAsync(userId))
            : await BypassAsync("me", inner.GetUserAsync(userId));

    public async Task<BalanceView?> GetBalanceAsync(long userId) =>
        await versions.StampAsync(userId) is { } stamp
            ? await ReadThroughAsync("balance", redis.Prefix + "bal:" + userId + ":" + stamp, s_account, () => inner.GetBalanceAsync(userId))
            : await BypassAsync("balance", inner.GetBalanceAsync(userId));

    public async Task<Recipient?> FindByAccountNumberAsync(string accountNumber) =>
        redis.IsConnected
            ? await ReadThroughAsync("lookup", redis.Prefix + "acct:num:" + accountNumber, s_lookup, () => inner.FindByAccountNumberAsync(accountNumber))
            : await BypassAsync("lookup", inner.FindByAccountNumberAsync(accountNumber));

    private Task<T> BypassAsync<T>(string kind, Task<T> read)
    {
        metrics.Bypass(kind);
        return read;
    }

    // Get without a factory, then store only a found value: HybridCache would otherwise cache the null of a miss.
    private async Task<T?> ReadThroughAsync<T>(string kind, string key, HybridCacheEntryOptions options, Func<Task<T?>> load)
        where T : class
    {
        try
        {
            var cached = await cache.GetOrCreateAsync<T?>(key, static _ => ValueTask.FromResult<T?>(null), s_readOnly);
            if (cached is not null)
            {
                metrics.Hit(kind);
                return cached;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogDebug("The cache did not answer for {Key}: {Message}", key, ex.Message);
            metrics.Bypass(kind);
            return await load();
        }
        metrics.Miss(kind);
        var value = await load();
        if (value is not null)
        {
            try
            {
                await cache.SetAsync(key, value, options);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogDebug("The cache did not store {Key}: {Message}", key, ex.Message);
            }
        }
        return value;
    }

    public Task<LoginCandidate?> FindLoginByPhoneAsync(string phone) => inner.FindLoginByPhoneAsync(phone);

    public Task<IReadOnlyList<LoginCandidate>> FindLoginsByUsernameAsync(string username) => inner.FindLoginsByUsernameAsync(username);

    public Task<Recipient?> FindByPhoneAsync(string phone) => inner.FindByPhoneAsync(phone);

    public Task<IReadOnlyList<Recipient>> FindByUsernameAsync(string username) => inner.FindByUsernameAsync(username);

    public Task<TransferView?> GetTransferAsync(long transferId) => inner.GetTransferAsync(transferId);

    public Task<TransactionPage> GetTransactionsAsync(long userId, int page, int size) => inner.GetTransactionsAsync(userId, page, size);

    public Task<IReadOnlyList<NotificationView>> GetNotificationsAsync(long userId, int limit) => inner.GetNotificationsAsync(userId, limit);

    public Task<AdminStats> GetStatsAsync() => inner.GetStatsAsync();

    public Task<AdminUserPage> GetUsersAsync(int page, int size, string? search) => inner.GetUsersAsync(page, size, search);

    public Task<AdminUserDetail?> GetUserDetailAsync(long userId) => inner.GetUserDetailAsync(userId);

    public Task<AdminTransferPage> GetTransfersAsync(int page, int size) => inner.GetTransfersAsync(page, size);

    public Task<AdminNotificationPage> GetAllNotificationsAsync(int page, int size, long? userId) => inner.GetAllNotificationsAsync(page, size, userId);

    public Task<LedgerAudit> AuditAsync() => inner.AuditAsync();

    public Task<IReadOnlyList<(string Jti, long ExpiresAt)>> GetRevokedTokensAsync(long now) => inner.GetRevokedTokensAsync(now);

    public Task PingAsync(CancellationToken cancellationToken) => inner.PingAsync(cancellationToken);
}
