using System.Data.Common;
using Dapper;

namespace Tally.Server.Storage;

/// <summary>
/// The reads, written once for both databases: the same SQL (through <see cref="SqlDialect"/> where they differ) and
/// the same row mapping. A subclass opens the connections and the snapshot that the audit reads in.
/// </summary>
public abstract class LedgerReader : ILedgerReader
{
    private readonly IAccountCache _cache;
    private readonly string _like;

    private protected LedgerReader(IAccountCache cache, SqlDialect dialect)
    {
        _cache = cache;
        _like = dialect.Like;
    }

    /// <summary>Opens a pooled connection.</summary>
    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken = default);

    /// <summary>Begins a read-only transaction whose queries all see one snapshot, without waiting for the writer.</summary>
    protected abstract ValueTask<DbTransaction> BeginSnapshotAsync(DbConnection connection);

    public async Task<UserView?> GetUserAsync(long userId) => (await LoadAccountAsync(userId)).User;

    public async Task<BalanceView?> GetBalanceAsync(long userId) => (await LoadAccountAsync(userId)).Balance;

    private async Task<(UserView? User, BalanceView? Balance)> LoadAccountAsync(long userId)
    {
        if (_cache.TryGet(userId, out var cachedUser, out var cachedBalance))
        {
            return (cachedUser, cachedBalance);
        }
        var version = _cache.Version(userId);
        var row = await Read(c => c.QuerySingleOrDefaultAsync<AccountRow>(
            "SELECT u.phone AS Phone, u.username AS Username, a.account_number AS AccountNumber, a.balance AS Balance, a.held AS Held FROM users u JOIN accounts a ON a.id = u.id WHERE u.id = @userId",
            new { userId }));
        if (row is null)
        {
            return (null, null);
        }
        var user = new UserView(userId, row.Phone, row.Username, row.AccountNumber, row.Balance);
        _cache.Store(userId, version, user, row.Held);
        return (user, new BalanceView(user.Balance, user.Balance - row.Held));
    }

    public Task<LoginCandidate?> FindLoginByPhoneAsync(string phone) =>
        Read(async c => (await c.QuerySingleOrDefaultAsync<LoginRow>(LedgerSql.LoginSelect + " WHERE u.phone = @phone", new { phone }))?.ToCandidate());

    public Task<IReadOnlyList<LoginCandidate>> FindLoginsByUsernameAsync(string username) =>
        Read<IReadOnlyList<LoginCandidate>>(async c =>
            (await c.QueryAsync<LoginRow>(LedgerSql.LoginSelect + " WHERE u.username = @username LIMIT 2", new { username })).Select(r => r.ToCandidate()).ToList());

    public Task<Recipient?> FindByAccountNumberAsync(string accountNumber) => FindRecipientAsync("a.account_number = @value", accountNumber);

    public Task<Recipient?> FindByPhoneAsync(string phone) => FindRecipientAsync("u.phone = @value", phone);

    private Task<Recipient?> FindRecipientAsync(string where, string value) =>
        Read(async c => (await c.QuerySingleOrDefaultAsync<RecipientRow>(LedgerSql.RecipientSelect + " WHERE " + where, new { value }))?.ToRecipient());

    public Task<IReadOnlyList<Recipient>> FindByUsernameAsync(string username) =>
        Read<IReadOnlyList<Recipient>>(async c =>
            (await c.QueryAsync<RecipientRow>(LedgerSql.RecipientSelect + " WHERE u.username = @username LIMIT 2", new { username })).Select(r => r.ToRecipient()).ToList());

    public Task<TransferView?> GetTransferAsync(long transferId) =>
        Read(async c => (await c.QuerySingleOrDefaultAsync<TransferRow>(
            LedgerSql.TransferSelect + " WHERE t.id = @transferId AND t.kind = @kind", new { transferId, kind = TransferKind.Transfer }))?.ToView());

    public Task<TransactionPage> GetTransactionsAsync(long userId, int page, int size) =>
        Read(async c =>
        {
            var total = await c.ExecuteScalarAsync<long>(
                "SELECT (SELECT COUNT(*) FROM transfers WHERE from_account_id = @userId) + (SELECT COUNT(*) FROM transfers WHERE to_account_id = @userId)",
                new { userId });
            var items = (await c.QueryAsync<TransactionRow>(
                """
                SELECT t.id AS TransferId, CASE WHEN t.from_account_id = @userId THEN 'out' ELSE 'in' END AS Direction,
                       ca.account_number AS CounterpartyAccountNumber, cu.username AS CounterpartyUsername,
                       t.amount AS Amount, t.status AS Status, t.note AS Note, t.created_at AS CreatedAt
                FROM transfers t
                JOIN accounts ca ON ca.id = CASE WHEN t.from_account_id = @userId THEN t.to_account_id ELSE t.from_account_id END
                LEFT JOIN users cu ON cu.id = ca.id
                WHERE t.from_account_id = @userId OR t.to_account_id = @userId
                ORDER BY t.id DESC LIMIT @size OFFSET @offset
                """,
                new { userId, size, offset = Offset(page, size) })).Select(r => r.ToItem()).ToList();
            return new TransactionPage(items, total, page, size, Paging.Pages(total, size));
        });

    public Task<IReadOnlyList<NotificationView>> GetNotificationsAsync(long userId, int limit) =>
        Read<IReadOnlyList<NotificationView>>(async c =>
            (await c.QueryAsync<NotificationRow>(
                "SELECT id AS Id, user_id AS UserId, type AS Type, message AS Message, CAST(is_read AS integer) AS IsRead, transfer_id AS TransferId, amount AS Amount, created_at AS CreatedAt FROM notifications WHERE user_id = @userId ORDER BY id DESC LIMIT @limit",
                new { userId, limit })).Select(r => r.ToView()).ToList());

    public Task<AdminStats> GetStatsAsync() =>
        Read(c => c.QuerySingleAsync<AdminStats>(
            """
            SELECT (SELECT COUNT(*) FROM users) AS TotalUsers,
                   (SELECT CAST(COALESCE(SUM(balance), 0) AS bigint) FROM accounts WHERE kind = 'user') AS TotalBalance,
                   (SELECT COUNT(*) FROM transfers WHERE kind = @kind) AS TotalTransfers,
                   (SELECT CAST(COALESCE(SUM(amount), 0) AS bigint) FROM transfers WHERE kind = @kind AND status = @success) AS TotalTransferAmount,
                   (SELECT COUNT(*) FROM notifications) AS TotalNotifications
            """,
            new { kind = TransferKind.Transfer, success = TransferStatus.Success }));

    public Task<AdminUserPage> GetUsersAsync(int page, int size, string? search) =>
        Read(async c =>
        {
            var like = string.IsNullOrEmpty(search) ? null : "%" + search.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
            var where = $" WHERE (@like IS NULL OR u.username {_like} @like ESCAPE '\\' OR u.phone {_like} @like ESCAPE '\\' OR a.account_number {_like} @like ESCAPE '\\')";
            var total = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM users u JOIN accounts a ON a.id = u.id" + where, new { like });
            var users = (await c.QueryAsync<UserRow>(LedgerSql.UserSelect + where + " ORDER BY u.id DESC LIMIT @size OFFSET @offset", new { like, size, offset = Offset(page, size) }))
                .Select(r => new AdminUser(r.Id, r.Phone, r.Username, r.AccountNumber, r.Balance)).ToList();
            return new AdminUserPage(users, total, page, size, Paging.Pages(total, size));
        });

    public Task<AdminUserDetail?> GetUserDetailAsync(long userId) =>
        Read(async c =>
        {
            var user = await c.QuerySingleOrDefaultAsync<UserRow>(LedgerSql.UserSelect + " WHERE u.id = @userId", new { userId });
            if (user is null)
            {
                return null;
            }
            var transfers = (await c.QueryAsync<AdminUserTransferRow>(
                """
                SELECT id AS Id, NULLIF(from_account_id, @bank) AS FromUser, NULLIF(to_account_id, @bank) AS ToUser, amount AS Amount,
                       CASE WHEN from_account_id = @userId THEN 'out' ELSE 'in' END AS Direction, created_at AS CreatedAt
                FROM transfers WHERE from_account_id = @userId OR to_account_id = @userId ORDER BY id DESC LIMIT 20
                """,
                new { userId, bank = Bank.AccountId }))
                .Select(r => new AdminUserTransfer(r.Id, r.FromUser, r.ToUser, r.Amount, r.Direction, r.CreatedAt)).ToList();
            return new AdminUserDetail(user.Id, user.Phone, user.Username, user.AccountNumber, user.Balance, transfers);
        });

    public Task<AdminTransferPage> GetTransfersAsync(int page, int size) =>
        Read(async c =>
        {
            var total = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM transfers WHERE kind = @kind", new { kind = TransferKind.Transfer });
            // Both parties of a transfer are users, so each column is the record's as it is.
            var transfers = (await c.QueryAsync<AdminTransfer>(
                """
                SELECT t.id AS Id, t.from_account_id AS FromUser, fu.username AS FromUsername, t.to_account_id AS ToUser, tu.username AS ToUsername,
                       t.amount AS Amount, t.status AS Status, t.created_at AS CreatedAt
                FROM transfers t JOIN users fu ON fu.id = t.from_account_id JOIN users tu ON tu.id = t.to_account_id
                WHERE t.kind = @kind ORDER BY t.id DESC LIMIT @size OFFSET @offset
                """,
                new { size, offset = Offset(page, size), kind = TransferKind.Transfer })).AsList();
            return new AdminTransferPage(transfers, total, page, size, Paging.Pages(total, size));
        });

    public Task<AdminNotificationPage> GetAllNotificationsAsync(int page, int size, long? userId) =>
        Read(async c =>
        {
            const string where = " WHERE (@userId IS NULL OR n.user_id = @userId)";
            var total = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM notifications n" + where, new { userId });
            var items = (await c.QueryAsync<NotificationRow>(
                "SELECT n.id AS Id, n.user_id AS UserId, u.username AS Username, n.message AS Message, CAST(n.is_read AS integer) AS IsRead, n.created_at AS CreatedAt, n.type AS Type FROM notifications n JOIN users u ON u.id = n.user_id"
                + where + " ORDER BY n.id DESC LIMIT @size OFFSET @offset",
                new { userId, size, offset = Offset(page, size) })).Select(r => r.ToAdmin()).ToList();
            return new AdminNotificationPage(items, total, page, size, Paging.Pages(total, size));
        });

    public async Task<LedgerAudit> AuditAsync()
    {
        await using var c = await OpenAsync();
        // One snapshot for both queries, so that they see the same ledger.
        await using var tx = await BeginSnapshotAsync(c);
        var totals = await c.QuerySingleAsync<AuditRow>(
            """
            SELECT COUNT(*) AS Accounts, CAST(COALESCE(SUM(balance), 0) AS bigint) AS LedgerSum,
                   CAST(COALESCE(SUM(CASE WHEN kind = 'user' THEN balance END), 0) AS bigint) AS TotalUserBalance,
                   CAST(COALESCE(SUM(CASE WHEN kind = 'equity' THEN balance END), 0) AS bigint) AS BankEquityBalance,
                   CAST(COALESCE(SUM(held), 0) AS bigint) AS PendingHolds,
                   CAST(COALESCE(SUM(CASE WHEN kind = 'user' AND (balance < 0 OR balance < held) THEN 1 ELSE 0 END), 0) AS bigint) AS NegativeBalances
            FROM accounts
            """,
            transaction: tx);
        var mismatched = await c.ExecuteScalarAsync<long>(
            """
            WITH moved AS (
                SELECT to_account_id AS id, amount AS delta, CAST(0 AS bigint) AS hold FROM transfers WHERE status = @success
                UNION ALL SELECT from_account_id, -amount, 0 FROM transfers WHERE status = @success
                UNION ALL SELECT from_account_id, 0, amount FROM transfers WHERE status = @pending
            ), sums AS (SELECT id, SUM(delta) AS balance, SUM(hold) AS held FROM moved GROUP BY id)
            SELECT COUNT(*) FROM accounts a LEFT JOIN sums s ON s.id = a.id
            WHERE a.balance <> COALESCE(s.balance, 0) OR a.held <> COALESCE(s.held, 0)
            """,
            new { success = TransferStatus.Success, pending = TransferStatus.Pending },
            transaction: tx);
        await tx.CommitAsync();
        var ok = totals.LedgerSum == 0 && totals.NegativeBalances == 0 && mismatched == 0;
        return new LedgerAudit(ok, totals.LedgerSum, totals.Accounts, totals.TotalUserBalance, totals.BankEquityBalance, totals.PendingHolds, totals.NegativeBalances, mismatched);
    }

    public Task<IReadOnlyList<(string Jti, long ExpiresAt)>> GetRevokedTokensAsync(long now) =>
        Read<IReadOnlyList<(string, long)>>(async c => (await c.QueryAsync<(string, long)>("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= @now", new { now })).AsList());

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var c = await OpenAsync(cancellationToken);
        await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM accounts WHERE id = @bank", new { bank = Bank.AccountId }, cancellationToken: cancellationToken));
    }

    private static long Offset(int page, int size) => (long)(page - 1) * size;

    private async Task<T> Read<T>(Func<DbConnection, Task<T>> query)
    {
        await using var connection = await OpenAsync();
        return await query(connection);
    }

    private sealed class AccountRow
    {
        public string Phone { get; set; } = "";
        public string Username { get; set; } = "";
        public string AccountNumber { get; set; } = "";
        public long Balance { get; set; }
        public long Held { get; set; }
    }
}
