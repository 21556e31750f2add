namespace Tally.Server.Storage;

// The selects both readers share: the same SQL runs on SQLite and PostgreSQL.
internal static class LedgerSql
{
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

internal sealed class TransactionRow
{
    public long TransferId { get; set; }
    public string Direction { get; set; } = "";
    public string CounterpartyAccountNumber { get; set; } = "";
    public string CounterpartyUsername { get; set; } = "";
    public long Amount { get; set; }
    public string Status { get; set; } = "";
    public string? Note { get; set; }
    public string CreatedAt { get; set; } = "";
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

internal sealed class AdminTransferRow
{
    public long Id { get; set; }
    public long FromUser { get; set; }
    public string FromUsername { get; set; } = "";
    public long ToUser { get; set; }
    public string ToUsername { get; set; } = "";
    public long Amount { get; set; }
    public string Status { get; set; } = "";
    public string CreatedAt { get; set; } = "";
}

internal sealed class AuditRow
{
    public long Accounts { get; set; }
    public long LedgerSum { get; set; }
    public long TotalUserBalance { get; set; }
    public long BankEquityBalance { get; set; }
    public long PendingHolds { get; set; }
    public long NegativeBalances { get; set; }
}
