namespace Tally.Server.Storage;

public sealed record UserView(long Id, string Phone, string Username, string AccountNumber, long Balance);

public sealed record BalanceView(long Balance, long Available);

public sealed record AccountLookupView(string AccountNumber, string Username);

/// <summary>A transfer as the API shows it; the party ids stay internal for access checks.</summary>
public sealed record TransferView(
    long TransferId,
    string Status,
    string From,
    string To,
    string ToAccountNumber,
    long Amount,
    string? Note,
    string? ClientRef,
    string? HoldUntil,
    string CreatedAt)
{
    public bool Ok => true;

    [System.Text.Json.Serialization.JsonIgnore]
    public long FromUserId { get; init; }

    [System.Text.Json.Serialization.JsonIgnore]
    public long ToUserId { get; init; }
}

public sealed record NotificationView(long Id, string Type, string Message, bool IsRead, long? TransferId, long? Amount, string CreatedAt);

/// <summary>A notification just written for a user, to push to that user's open sockets after commit.</summary>
public sealed record NotificationPush(long UserId, NotificationView Notification);

public sealed record TransferResult(TransferView Transfer, bool Replayed, IReadOnlyList<NotificationPush> Notifications);

public sealed record Recipient(long Id, string Username, string AccountNumber);

public sealed record LoginCandidate(long Id, string Phone, string Username, string PasswordHash, string AccountNumber, long Balance);

public sealed record TransactionItem(long TransferId, string Direction, string CounterpartyAccountNumber, string CounterpartyUsername, long Amount, string Status, string? Note, string CreatedAt);

public sealed record TransactionPage(IReadOnlyList<TransactionItem> Items, long Total, int Page, int Size, int Pages);

public sealed record AdminStats(long TotalUsers, long TotalBalance, long TotalTransfers, long TotalTransferAmount, long TotalNotifications);

public sealed record AdminUser(long Id, string Phone, string Username, string AccountNumber, long Balance);

public sealed record AdminUserPage(IReadOnlyList<AdminUser> Users, long Total, int Page, int Size, int Pages);

public sealed record AdminUserTransfer(long Id, long? FromUser, long? ToUser, long Amount, string Direction, string CreatedAt);

public sealed record AdminUserDetail(long Id, string Phone, string Username, string AccountNumber, long Balance, IReadOnlyList<AdminUserTransfer> Transfers);

public sealed record AdminTransfer(long Id, long? FromUser, string FromUsername, long? ToUser, string ToUsername, long Amount, string Status, string CreatedAt);

public sealed record AdminTransferPage(IReadOnlyList<AdminTransfer> Transfers, long Total, int Page, int Size, int Pages);

public sealed record AdminNotification(long Id, long UserId, string Username, string Message, bool IsRead, string CreatedAt);

public sealed record AdminNotificationPage(IReadOnlyList<AdminNotification> Notifications, long Total, int Page, int Size, int Pages);

/// <summary>The money audit: ok when the ledger sums to zero, no user balance is negative, and every balance replays from its transfers.</summary>
public sealed record LedgerAudit(
    bool Ok,
    long LedgerSum,
    long Accounts,
    long TotalUserBalance,
    long BankEquityBalance,
    long PendingHolds,
    long NegativeBalances,
    long MismatchedAccounts);

public static class Clock
{
    /// <summary>Fixed-width UTC ISO-8601, so that text order is time order in the database.</summary>
    public static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
