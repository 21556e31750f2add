using Dapper;
using Npgsql;
using Tally.Domain;

namespace Tally.Server.Storage.Postgres;

/// <summary>Reads on pooled connections, with the queries and outputs of <see cref="SqliteLedgerReader"/>; under MVCC they never wait for the writer.</summary>
public sealed class PostgresLedgerReader(PostgresDatabase database, IAccountCache cache) : ILedgerReader
{
    public async Task<UserView?> GetUserAsync(long userId) => (await LoadAccountAsync(userId)).User;

    public async Task<BalanceView?> GetBalanceAsync(long userId) => (await LoadAccountAsync(userId)).Balance;

    private async Task<(UserView? User, BalanceView? Balance)> LoadAccountAsync(long userId)
    {
        if (cache.TryGet(userId, out var cachedUser, out var cachedBalance))
        {
            return (cachedUser, cachedBalance);
        }
        var version = cache.Version(userId);
        await using var command = database.DataSource.CreateCommand(
            "SELECT u.phone, u.username, a.account_number, a.balance, a.held FROM users u JOIN accounts a ON a.id = u.id WHERE u.id = $1");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = userId });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            return (null, null);
        }
        var user = new UserView(userId, reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3));
        var held = reader.GetInt64(4);
        cache.Store(userId, version, user, held);
        return (user, new BalanceView(user.Balance, user.Balance - held));
    }

    public Task<LoginCandidate?> FindLoginByPhoneAsync(string phone) =>
        Read(async c => (await c.QuerySingleOrDefaultAsync<LoginRow>(LedgerSql.LoginSelect + " WHERE u.phone = @phone", new { phone }))?.ToCandidate());

    public Task<IReadOnlyList<LoginCandidate>> FindLoginsByUsernameAsync(string username) =>
        Read<IReadOnlyList<LoginCandidate>>(async c =>
            (await c.QueryAsync<LoginRow>(LedgerSql.LoginSelect + " WHERE u.username = @username LIMIT 2", new { username })).Select(r => r.ToCandidate()).ToList());

    public Task<Recipient?> FindByAccountNumberAsync(string accountNumber) =>
        Read(async c => (await c.QuerySingleOrDefaultAsync<RecipientRow>(LedgerSql.RecipientSelect + " WHERE a.account_number = @accountNumber", new { accountNumber }))?.ToRecipient());

    public Task<Recipient?> FindByPhoneAsync(string phone) =>
        Read(async c => (await c.QuerySingleOrDefaultAsync<RecipientRow>(LedgerSql.RecipientSelect + " WHERE u.phone = @phone", new { phone }))?.ToRecipient());

    public Task<IReadOnlyList<Recipient>> FindByUsernameAsync(string username) =>
        Read<IReadOnlyList<Recipient>>(async c =>
            (await c.QueryAsync<RecipientRow>(LedgerSql.RecipientSelect + " WHERE u.username = @username LIMIT 2", new { username })).Select(r => r.ToRecipient()).ToList());

    public Task<TransferView?> GetTransferAsync(long transferId) =>
        Read(async c => (await c.QuerySingleOrDefaultAsync<TransferRow>(SqliteLedgerStore.TransferSelect + " WHERE t.id = @transferId AND t.kind = 'transfer'", new { transferId }))?.ToView());

    public Task<TransactionPage> GetTransactionsAsync(long userId, int page, int size) =>
        Read(async c =>
        {
            var total = await c.ExecuteScalarAsync<long>(
                "SELECT (SELECT COUNT(*) FROM transfers WHERE from_account_id = @userId) + (SELECT COUNT(*) FROM transfers WHERE to_account_id = @userId)",
                new { userId });
            var items = (await c.QueryAsync<TransactionRow>(
                """
                SELECT t.id AS TransferId, CASE WHEN t.from_account_id = @userId THEN 'out' ELSE 'in' END AS Direction,
                       ca.account_number AS CounterpartyAccountNumber, COALESCE(cu.username, 'Tally Bank') AS CounterpartyUsername,
                       t.amount AS Amount, t.status AS Status, t.note AS Note, t.created_at AS CreatedAt
                FROM transfers t
                JOIN accounts ca ON ca.id = CASE WHEN t.from_account_id = @userId THEN t.to_account_id ELSE t.from_account_id END
                LEFT JOIN users cu ON cu.id = ca.id
                WHERE t.from_account_id = @userId OR t.to_account_id = @userId
                ORDER BY t.id DESC LIMIT @size OFFSET @offset
                """,
                new { userId, size, offset = (long)(page - 1) * size }))
                .Select(r => new TransactionItem(r.TransferId, r.Direction, r.CounterpartyAccountNumber, r.CounterpartyUsername, r.Amount, r.Status, r.Note, r.CreatedAt))
                .ToList();
            return new TransactionPage(items, total, page, size, Paging.Pages(total, size));
        });

    public Task<IReadOnlyList<NotificationView>> GetNotificationsAsync(long userId, int limit) =>
        Read<IReadOnlyList<NotificationView>>(async c =>
            (await c.QueryAsync<NotificationRow>(
                "SELECT id AS Id, user_id AS UserId, type AS Type, message AS Message, is_read AS IsRead, transfer_id AS TransferId, amount AS Amount, created_at AS CreatedAt FROM notifications WHERE user_id = @userId ORDER BY id DESC LIMIT @limit",
                new { userId, limit }))
            .Select(r => new NotificationView(r.Id, r.Type, r.Message, r.IsRead, r.TransferId, r.Amount, r.CreatedAt))
            .ToList());

    public Task<AdminStats> GetStatsAsync() =>
        Read(c => c.QuerySingleAsync<AdminStats>(
            """
            SELECT (SELECT COUNT(*) FROM users) AS TotalUsers,
                   (SELECT COALESCE(SUM(balance), 0)::bigint FROM accounts WHERE kind = 'user') AS TotalBalance,
                   (SELECT COUNT(*) FROM transfers WHERE kind = 'transfer') AS TotalTransfers,
                   (SELECT COALESCE(SUM(amount), 0)::bigint FROM transfers WHERE kind = 'transfer' AND status = 'SUCCESS') AS TotalTransferAmount,
                   (SELECT COUNT(*) FROM notifications) AS TotalNotifications
            """));

    public Task<AdminUserPage> GetUsersAsync(int page, int size, string? search) =>
        Read(async c =>
        {
            var like = string.IsNullOrEmpty(search) ? null : "%" + search.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
            const string where = " WHERE (@like IS NULL OR u.username ILIKE @like ESCAPE '\\' OR u.phone ILIKE @like ESCAPE '\\' OR a.account_number ILIKE @like ESCAPE '\\')";
            var total = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM users u JOIN accounts a ON a.id = u.id" + where, new { like });
            var users = (await c.QueryAsync<UserRow>(LedgerSql.UserSelect + where + " ORDER BY u.id DESC LIMIT @size OFFSET @offset", new { like, size, offset = (long)(page - 1) * size }))
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
                SELECT id AS Id, NULLIF(from_account_id, 0) AS FromUser, NULLIF(to_account_id, 0) AS ToUser, amount AS Amount,
                       CASE WHEN from_account_id = @userId THEN 'out' ELSE 'in' END AS Direction, created_at AS CreatedAt
                FROM transfers WHERE from_account_id = @userId OR to_account_id = @userId ORDER BY id DESC LIMIT 20
                """,
                new { userId }))
                .Select(r => new AdminUserTransfer(r.Id, r.FromUser, r.ToUser, r.Amount, r.Direction, r.CreatedAt)).ToList();
            return new AdminUserDetail(user.Id, user.Phone, user.Username, user.AccountNumber, user.Balance, transfers);
        });

    public Task<AdminTransferPage> GetTransfersAsync(int page, int size) =>
        Read(async c =>
        {
            var total = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM transfers WHERE kind = 'transfer'");
            var transfers = (await c.QueryAsync<AdminTransferRow>(
                """
                SELECT t.id AS Id, t.from_account_id AS FromUser, fu.username AS FromUsername, t.to_account_id AS ToUser, tu.username AS ToUsername,
                       t.amount AS Amount, t.status AS Status, t.created_at AS CreatedAt
                FROM transfers t JOIN users fu ON fu.id = t.from_account_id JOIN users tu ON tu.id = t.to_account_id
                WHERE t.kind = 'transfer' ORDER BY t.id DESC LIMIT @size OFFSET @offset
                """,
                new { size, offset = (long)(page - 1) * size }))
                .Select(r => new AdminTransfer(r.Id, r.FromUser, r.FromUsername, r.ToUser, r.ToUsername, r.Amount, r.Status, r.CreatedAt)).ToList();
            return new AdminTransferPage(transfers, total, page, size, Paging.Pages(total, size));
        });

    public Task<AdminNotificationPage> GetAllNotificationsAsync(int page, int size, long? userId) =>
        Read(async c =>
        {
            const string where = " WHERE (@userId IS NULL OR n.user_id = @userId)";
            var total = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM notifications n" + where, new { userId });
            var items = (await c.QueryAsync<NotificationRow>(
                "SELECT n.id AS Id, n.user_id AS UserId, u.username AS Username, n.message AS Message, n.is_read AS IsRead, n.created_at AS CreatedAt, n.type AS Type FROM notifications n JOIN users u ON u.id = n.user_id"
                + where + " ORDER BY n.id DESC LIMIT @size OFFSET @offset",
                new { userId, size, offset = (long)(page - 1) * size }))
                .Select(r => new AdminNotification(r.Id, r.UserId, r.Username ?? "", r.Message, r.IsRead, r.CreatedAt)).ToList();
            return new AdminNotificationPage(items, total, page, size, Paging.Pages(total, size));
        });

    public async Task<LedgerAudit> AuditAsync()
    {
        await using var c = await database.DataSource.OpenConnectionAsync();
        // One snapshot for both queries, so that they see the same ledger.
        await using var tx = await c.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        var totals = await c.QuerySingleAsync<AuditRow>(
            """
            SELECT COUNT(*) AS Accounts, COALESCE(SUM(balance), 0)::bigint AS LedgerSum,
                   COALESCE(SUM(CASE WHEN kind = 'user' THEN balance END), 0)::bigint AS TotalUserBalance,
                   COALESCE(SUM(CASE WHEN kind = 'equity' THEN balance END), 0)::bigint AS BankEquityBalance,
                   COALESCE(SUM(held), 0)::bigint AS PendingHolds,
                   COUNT(*) FILTER (WHERE kind = 'user' AND (balance < 0 OR balance < held)) AS NegativeBalances
            FROM accounts
            """,
            transaction: tx);
        var mismatched = await c.ExecuteScalarAsync<long>(
            """
            WITH moved AS (
                SELECT to_account_id AS id, amount AS delta, 0::bigint AS hold FROM transfers WHERE status = 'SUCCESS'
                UNION ALL SELECT from_account_id, -amount, 0 FROM transfers WHERE status = 'SUCCESS'
                UNION ALL SELECT from_account_id, 0, amount FROM transfers WHERE status = 'PENDING'
            ), sums AS (SELECT id, SUM(delta) AS balance, SUM(hold) AS held FROM moved GROUP BY id)
            SELECT COUNT(*) FROM accounts a LEFT JOIN sums s ON s.id = a.id
            WHERE a.balance <> COALESCE(s.balance, 0) OR a.held <> COALESCE(s.held, 0)
            """,
            transaction: tx);
        await tx.CommitAsync();
        var ok = totals.LedgerSum == 0 && totals.NegativeBalances == 0 && mismatched == 0;
        return new LedgerAudit(ok, totals.LedgerSum, totals.Accounts, totals.TotalUserBalance, totals.BankEquityBalance, totals.PendingHolds, totals.NegativeBalances, mismatched);
    }

    public Task<IReadOnlyList<(string Jti, long ExpiresAt)>> GetRevokedTokensAsync(long now) =>
        Read<IReadOnlyList<(string, long)>>(async c => (await c.QueryAsync<(string, long)>("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= @now", new { now })).AsList());

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand("SELECT COUNT(*) FROM accounts WHERE id = 0");
        await command.ExecuteScalarAsync(cancellationToken);
    }

    private async Task<T> Read<T>(Func<NpgsqlConnection, Task<T>> query)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        return await query(connection);
    }

    private sealed class NotificationRow
    {
        public long Id { get; set; }
        public long UserId { get; set; }
        public string? Username { get; set; }
        public string Type { get; set; } = "";
        public string Message { get; set; } = "";
        public bool IsRead { get; set; }
        public long? TransferId { get; set; }
        public long? Amount { get; set; }
        public string CreatedAt { get; set; } = "";
    }
}
