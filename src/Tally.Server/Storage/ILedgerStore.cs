namespace Tally.Server.Storage;

public sealed record NewTransfer(
    long FromUserId,
    Recipient To,
    string FromUsername,
    long Amount,
    string? Note,
    string? ClientRef,
    bool Instant,
    string RequestHash,
    DateTimeOffset Now,
    DateTimeOffset HoldUntil);

/// <summary>
/// Every change to money and users. Each call is one atomic unit of work with its own outcome. A call given a
/// <c>commandId</c> (the inbox key of a command a broker may redeliver) records it with its outcome in the same
/// transaction as the effect; a second call with the same id changes nothing and returns the stored outcome.
/// </summary>
public interface ILedgerStore
{
    Task<Outcome<UserView>> RegisterAsync(string phone, string username, string passwordHash, DateTimeOffset now, Guid? commandId = null);

    Task<Outcome<TransferResult>> TransferAsync(NewTransfer transfer, Guid? commandId = null);

    Task<Outcome<TransferResult>> ResolveHoldAsync(long userId, long? transferId, string? clientRef, bool confirm, DateTimeOffset now, Guid? commandId = null);

    Task<int> ExpireHoldsAsync(DateTimeOffset now, int limit);

    Task<bool> MarkNotificationReadAsync(long userId, long notificationId);

    Task RevokeTokenAsync(string jti, DateTimeOffset expiresAt);
}

/// <summary>Upkeep of the command inbox: a redelivery can only come while its message lives, so old rows can go.</summary>
public interface ICommandInbox
{
    /// <summary>Deletes up to <paramref name="limit"/> inbox rows written before <paramref name="before"/>; returns how many.</summary>
    Task<int> PurgeAsync(DateTimeOffset before, int limit);
}

/// <summary>Reads; none of them changes anything.</summary>
public interface ILedgerReader
{
    Task<UserView?> GetUserAsync(long userId);

    Task<BalanceView?> GetBalanceAsync(long userId);

    Task<LoginCandidate?> FindLoginByPhoneAsync(string phone);

    Task<IReadOnlyList<LoginCandidate>> FindLoginsByUsernameAsync(string username);

    Task<Recipient?> FindByAccountNumberAsync(string accountNumber);

    Task<Recipient?> FindByPhoneAsync(string phone);

    Task<IReadOnlyList<Recipient>> FindByUsernameAsync(string username);

    Task<TransferView?> GetTransferAsync(long transferId);

    Task<TransactionPage> GetTransactionsAsync(long userId, int page, int size);

    Task<IReadOnlyList<NotificationView>> GetNotificationsAsync(long userId, int limit);

    Task<AdminStats> GetStatsAsync();

    Task<AdminUserPage> GetUsersAsync(int page, int size, string? search);

    Task<AdminUserDetail?> GetUserDetailAsync(long userId);

    Task<AdminTransferPage> GetTransfersAsync(int page, int size);

    Task<AdminNotificationPage> GetAllNotificationsAsync(int page, int size, long? userId);

    Task<LedgerAudit> AuditAsync();

    Task<IReadOnlyList<(string Jti, long ExpiresAt)>> GetRevokedTokensAsync(long now);

    Task PingAsync(CancellationToken cancellationToken);
}
