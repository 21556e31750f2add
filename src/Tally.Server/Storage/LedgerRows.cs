namespace Tally.Server.Storage;

// The selects that both databases run as they are. A party without a user row is the bank: its name is null here
// and becomes Bank.DisplayName when the row is mapped, so that the text lives in C# only.
internal static class LedgerSql
{
    public const string TransferSelect = """
        SELECT t.id AS TransferId, t.status AS Status, fu.username AS FromName, tu.username AS ToName,
               ta.account_number AS ToAccountNumber, t.amount AS Amount, t.note AS Note, t.client_ref AS ClientRef,
               t.hold_until AS HoldUntil, t.created_at AS CreatedAt, t.from_account_id AS FromUserId,
               t.to_account_id AS ToUserId, t.request_hash AS RequestHash
        FROM transfers t
        JOIN accounts ta ON ta.id = t.to_account_id
        LEFT JOIN users fu ON fu.id = t.from_account_id
        LEFT JOIN users tu ON tu.id = t.to_account_id
        """;

    public const string UserSelect = """
        SELECT u.id AS Id, u.phone AS Phone, u.username AS Username, a.account_number AS AccountNumber, a.balance AS Balance
        FROM users u JOIN accounts a ON a.id = u.id
        """;

    public const string LoginSelect = """
        SELECT u.id AS Id, u.phone AS Phone, u.username AS Username, u.password_hash AS PasswordHash, a.account_number AS AccountNumber, a.balance AS Balance
        FROM users u JOIN accounts a ON a.id = u.id
        """;

    public const string RecipientSelect = """
        SELECT u.id AS Id, u.username AS Username, a.account_number AS AccountNumber FROM users u JOIN accounts a ON a.id = u.id
        """;
}

// Rows as Dapper maps them, shared by the SQLite and PostgreSQL readers.
internal sealed class UserRow
{
    public long Id { get; set; }
    public string Phone { get; set; } = "";
    public string Username { get; set; } = "";
    public string AccountNumber { get; set; } = "";
    public long Balance { get; set; }

    public UserView ToView() => new(Id, Phone, Username, AccountNumber, Balance);
}

internal sealed class LoginRow
{
    public long Id { get; set; }
    public string Phone { get; set; } = "";
    public string Username { get; set; } = "";
    public string PasswordHash { get; set; } = "";
    public string AccountNumber { get; set; } = "";
    public long Balance { get; set; }

    public LoginCandidate ToCandidate() => new(Id, Phone, Username, PasswordHash, AccountNumber, Balance);
}

internal sealed class RecipientRow
{
    public long Id { get; set; }
    public string Username { get; set; } = "";
    public string AccountNumber { get; set; } = "";

    public Recipient ToRecipient() => new(Id, Username, AccountNumber);
}

internal sealed class TransferRow
{
    public long TransferId { get; set; }
    public string Status { get; set; } = "";
    public string? FromName { get; set; }
    public string? ToName { get; set; }
    public string ToAccountNumber { get; set; } = "";
    public long Amount { get; set; }
    public string? Note { get; set; }
    public string? ClientRef { get; set; }
    public string? HoldUntil { get; set; }
    public string CreatedAt { get; set; } = "";
    public long FromUserId { get; set; }
    public long ToUserId { get; set; }
    public string? RequestHash { get; set; }

    public TransferView ToView() =>
        LedgerResults.View(TransferId, Status, FromName, ToName, ToAccountNumber, Amount, Note, ClientRef, HoldUntil, CreatedAt, FromUserId, ToUserId);
}

internal sealed class TransactionRow
{
    public long TransferId { get; set; }
    public string Direction { get; set; } = "";
    public string CounterpartyAccountNumber { get; set; } = "";
    public string? CounterpartyUsername { get; set; }
    public long Amount { get; set; }
    public string Status { get; set; } = "";
    public string? Note { get; set; }
    public string CreatedAt { get; set; } = "";

    public TransactionItem ToItem() =>
        new(TransferId, Direction, CounterpartyAccountNumber, CounterpartyUsername ?? Bank.DisplayName, Amount, Status, Note, CreatedAt);
}

internal sealed class NotificationRow
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public string? Username { get; set; }
    public string Type { get; set; } = "";
    public string Message { get; set; } = "";
    public long IsRead { get; set; }
    public long? TransferId { get; set; }
    public long? Amount { get; set; }
    public string CreatedAt { get; set; } = "";

    public NotificationView ToView() => new(Id, Type, Message, IsRead != 0, TransferId, Amount, CreatedAt);

    public AdminNotification ToAdmin() => new(Id, UserId, Username ?? "", Message, IsRead != 0, CreatedAt);
}

/// <summary>The results that both stores shape the same way from what their writes return.</summary>
internal static class LedgerResults
{
    public static TransferView View(
        long transferId, string status, string? fromName, string? toName, string toAccountNumber, long amount, string? note,
        string? clientRef, string? holdUntil, string createdAt, long fromUserId, long toUserId) =>
        new(transferId, status, fromName ?? Bank.DisplayName, toName ?? Bank.DisplayName, toAccountNumber, amount, note, clientRef, holdUntil, createdAt)
        {
            FromUserId = fromUserId,
            ToUserId = toUserId,
        };

    /// <summary>
    /// A transfer's result, with the two notifications that its move of money wrote at <paramref name="at"/> (ids
    /// <paramref name="receivedId"/> for the receiver and <paramref name="sentId"/> for the sender); none for a hold.
    /// </summary>
    public static TransferResult Result(TransferView view, bool replayed, long? receivedId, long? sentId, string at)
    {
        if (receivedId is not { } received || sentId is not { } sent)
        {
            return new TransferResult(view, replayed, []);
        }
        return new TransferResult(view, replayed,
        [
            new NotificationPush(view.ToUserId, new NotificationView(received, NotificationText.Received, NotificationText.ReceivedMessage(view.Amount, view.From), false, view.TransferId, view.Amount, at)),
            new NotificationPush(view.FromUserId, new NotificationView(sent, NotificationText.Sent, NotificationText.SentMessage(view.Amount, view.To), false, view.TransferId, view.Amount, at)),
        ]);
    }
}

internal sealed class AdminUserTransferRow
{
    public long Id { get; set; }
    public long? FromUser { get; set; }
    public long? ToUser { get; set; }
    public long Amount { get; set; }
    public string Direction { get; set; } = "";
    public string CreatedAt { get; set; } = "";
}

// The audit's totals, mapped by position: every column is a bigint on both databases.
internal sealed record AuditRow(long Accounts, long LedgerSum, long TotalUserBalance, long BankEquityBalance, long PendingHolds, long NegativeBalances);
