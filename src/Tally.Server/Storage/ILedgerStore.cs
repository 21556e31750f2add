using Tally.Domain;

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

/// <summary>Every change to money and users. Each call is one atomic unit of work with its own outcome.</summary>
public interface ILedgerStore
{
    Task<Outcome<UserView>> RegisterAsync(string phone, string username, string passwordHash, DateTimeOffset now);

    Task<Outcome<TransferResult>> TransferAsync(NewTransfer transfer);

    Task<Outcome<TransferResult>> ResolveHoldAsync(long userId, long? transferId, string? clientRef, bool confirm, DateTimeOffset now);

    Task<int> ExpireHoldsAsync(DateTimeOffset now, int limit);

    Task<bool> MarkNotificationReadAsync(long userId, long notificationId);

    Task RevokeTokenAsync(string jti, DateTimeOffset expiresAt);
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
