using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Domain;

namespace Tally.Server.Storage;

/// <summary>The ledger's writes on SQLite, each run by the single writer inside its own savepoint.</summary>
public sealed class SqliteLedgerStore(WriteQueue writer, IAccountCache cache) : ILedgerStore, ICommandInbox
{
    internal const string TransferSelect = """
        SELECT t.id AS TransferId, t.status AS Status, COALESCE(fu.username, 'Tally Bank') AS FromName,
               COALESCE(tu.username, 'Tally Bank') AS ToName, ta.account_number AS ToAccountNumber, t.amount AS Amount,
               t.note AS Note, t.client_ref AS ClientRef, t.hold_until AS HoldUntil, t.created_at AS CreatedAt,
               t.from_account_id AS FromUserId, t.to_account_id AS ToUserId, t.request_hash AS RequestHash
        FROM transfers t
        JOIN accounts ta ON ta.id = t.to_account_id
        LEFT JOIN users fu ON fu.id = t.from_account_id
        LEFT JOIN users tu ON tu.id = t.to_account_id
        """;

    public Task<Outcome<UserView>> RegisterAsync(string phone, string username, string passwordHash, DateTimeOffset now, Guid? commandId = null) =>
        Write(commandId, now, c =>
        {
            var at = Clock.Format(now);
            var id = c.QuerySingleOrDefault<long?>(
                "INSERT INTO users (phone, username, password_hash, created_at) VALUES (@phone, @username, @passwordHash, @at) ON CONFLICT (phone) DO NOTHING RETURNING id",
                new { phone, username, passwordHash, at });
            if (id is null)
            {
                throw new DomainException(DomainError.Conflict(ErrorCodes.PhoneExists, "A user with this phone number already exists."));
            }
            string accountNumber;
            do
            {
                accountNumber = AccountNumber.NewRandom();
            }
            while (c.Execute("INSERT INTO accounts (id, account_number, kind) VALUES (@id, @accountNumber, 'user') ON CONFLICT (account_number) DO NOTHING", new { id, accountNumber }) == 0);

            c.Execute(
                "INSERT INTO transfers (from_account_id, to_account_id, amount, status, kind, note, created_at, resolved_at) VALUES (0, @id, @amount, 'SUCCESS', 'opening', 'Opening balance', @at, @at)",
                new { id, amount = Money.OpeningBalance, at });
            c.Execute("UPDATE accounts SET balance = balance - @amount WHERE id = 0", new { amount = Money.OpeningBalance });
            c.Execute("UPDATE accounts SET balance = balance + @amount WHERE id = @id", new { id, amount = Money.OpeningBalance });
            return new UserView(id.Value, phone, username, accountNumber, Money.OpeningBalance);
        });

    public Task<Outcome<TransferResult>> TransferAsync(NewTransfer t, Guid? commandId = null) =>
        Invalidating(Write(commandId, t.Now, c =>
        {
            var at = Clock.Format(t.Now);
            var status = t.Instant ? TransferStatus.Success : TransferStatus.Pending;
            var holdUntil = t.Instant ? null : Clock.Format(t.HoldUntil);

            // The unique (sender, client_ref) constraint decides duplicates, so concurrent retries apply once.
            var id = c.QuerySingleOrDefault<long?>(
                """
                INSERT INTO transfers (from_account_id, to_account_id, amount, status, note, client_ref, request_hash, hold_until, created_at, resolved_at)
                VALUES (@from, @to, @amount, @status, @note, @clientRef, @hash, @holdUntil, @at, CASE WHEN @status = 'SUCCESS' THEN @at END)
                ON CONFLICT (from_account_id, client_ref) DO NOTHING RETURNING id
                """,
                new { from = t.FromUserId, to = t.To.Id, amount = t.Amount, status, note = t.Note, clientRef = t.ClientRef, hash = t.RequestHash, holdUntil, at });
            if (id is null)
            {
                var existing = c.QuerySingle<TransferRow>(TransferSelect + " WHERE t.from_account_id = @from AND t.client_ref = @clientRef", new { from = t.FromUserId, clientRef = t.ClientRef });
                if (existing.RequestHash != t.RequestHash)
                {
                    throw new DomainException(DomainError.Conflict(ErrorCodes.DuplicateClientRef, "This client_ref was already used for a different transfer."));
                }
                return new TransferResult(existing.ToView(), Replayed: true, []);
            }

            var debited = t.Instant
                ? c.Execute("UPDATE accounts SET balance = balance - @amount WHERE id = @from AND balance - held >= @amount", new { from = t.FromUserId, amount = t.Amount })
                : c.Execute("UPDATE accounts SET held = held + @amount WHERE id = @from AND balance - held >= @amount", new { from = t.FromUserId, amount = t.Amount });
            if (debited == 0)
            {
                throw new DomainException(DomainError.BadRequest(ErrorCodes.InsufficientFunds, "The available balance is too low for this transfer."));
            }

            var view = new TransferView(id.Value, status, t.FromUsername, t.To.Username, t.To.AccountNumber, t.Amount, t.Note, t.ClientRef, holdUntil, at)
            {
                FromUserId = t.FromUserId,
                ToUserId = t.To.Id,
            };
            if (!t.Instant)
            {
                return new TransferResult(view, Replayed: false, []);
            }
            c.Execute("UPDATE accounts SET balance = balance + @amount WHERE id = @to", new { to = t.To.Id, amount = t.Amount });
            return new TransferResult(view, Replayed: false, Notify(c, view, at));
        }));

    public Task<Outcome<TransferResult>> ResolveHoldAsync(long userId, long? transferId, string? clientRef, bool confirm, DateTimeOffset now, Guid? commandId = null) =>
        Invalidating(Write(commandId, now, c =>
        {
            var row = transferId is { } tid
                ? c.QuerySingleOrDefault<TransferRow>(TransferSelect + " WHERE t.id = @tid AND t.kind = 'transfer'", new { tid })
                : c.QuerySingleOrDefault<TransferRow>(TransferSelect + " WHERE t.from_account_id = @userId AND t.client_ref = @clientRef", new { userId, clientRef });
            if (row is null || (row.FromUserId != userId && row.ToUserId != userId))
            {
                throw new DomainException(DomainError.NotFound(ErrorCodes.TransferNotFound, "No such transfer."));
            }
            if (row.FromUserId != userId)
            {
                throw new DomainException(DomainError.Forbidden(ErrorCodes.NotOwner, "Only the sender may confirm or cancel a transfer."));
            }
            var at = Clock.Format(now);
            if (row.Status != TransferStatus.Pending || string.CompareOrdinal(row.HoldUntil, at) <= 0)
            {
                var state = row.Status == TransferStatus.Pending ? "expired" : row.Status.ToLowerInvariant();
                throw new DomainException(DomainError.Conflict(ErrorCodes.InvalidState, $"The transfer is {state} and can no longer be {(confirm ? "confirmed" : "cancelled")}."));
            }
            var newStatus = confirm ? TransferStatus.Success : TransferStatus.Cancelled;
            c.Execute("UPDATE transfers SET status = @newStatus, resolved_at = @at WHERE id = @id AND status = 'PENDING'", new { newStatus, at, id = row.TransferId });
            if (confirm)
            {
                c.Execute("UPDATE accounts SET held = held - @amount, balance = balance - @amount WHERE id = @from", new { amount = row.Amount, from = row.FromUserId });
                c.Execute("UPDATE accounts SET balance = balance + @amount WHERE id = @to", new { amount = row.Amount, to = row.ToUserId });
            }
            else
            {
                c.Execute("UPDATE accounts SET held = held - @amount WHERE id = @from", new { amount = row.Amount, from = row.FromUserId });
            }
            row.Status = newStatus;
            var view = row.ToView();
            return new TransferResult(view, Replayed: false, confirm ? Notify(c, view, at) : []);
        }));

    public async Task<int> ExpireHoldsAsync(DateTimeOffset now, int limit)
    {
        var outcome = await writer.ExecuteAsync(c =>
        {
            var at = Clock.Format(now);
            var expired = c.Query<(long Id, long From, long Amount)>(
                "SELECT id, from_account_id, amount FROM transfers WHERE status = 'PENDING' AND hold_until <= @at ORDER BY hold_until LIMIT @limit",
                new { at, limit }).AsList();
            foreach (var (id, from, amount) in expired)
            {
                c.Execute("UPDATE transfers SET status = 'EXPIRED', resolved_at = @at WHERE id = @id", new { at, id });
                c.Execute("UPDATE accounts SET held = held - @amount WHERE id = @from", new { amount, from });
            }
            return expired.Select(e => e.From).ToList();
        });
        foreach (var account in outcome.Value!)
        {
            await cache.InvalidateAsync(account);
        }
        return outcome.Value.Count;
    }

    public async Task<bool> MarkNotificationReadAsync(long userId, long notificationId)
    {
        var outcome = await writer.ExecuteAsync(c =>
            c.Execute("UPDATE notifications SET is_read = 1 WHERE id = @notificationId AND user_id = @userId", new { notificationId, userId }));
        return outcome.Value > 0;
    }

    public Task RevokeTokenAsync(string jti, DateTimeOffset expiresAt) =>
        writer.ExecuteAsync(c =>
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            c.Execute("DELETE FROM revoked_tokens WHERE expires_at < @now", new { now });
            return c.Execute("INSERT INTO revoked_tokens (jti, expires_at) VALUES (@jti, @exp) ON CONFLICT (jti) DO NOTHING", new { jti, exp = expiresAt.ToUnixTimeSeconds() });
        });

    public async Task<int> PurgeAsync(DateTimeOffset before, int limit)
    {
        var outcome = await writer.ExecuteAsync(c => c.Execute(
            "DELETE FROM command_inbox WHERE command_id IN (SELECT command_id FROM command_inbox WHERE created_at < @before LIMIT @limit)",
            new { before = Clock.Format(before), limit }));
        return outcome.Value;
    }

    // With an inbox key, the write applies once per command however often it is delivered.
    private Task<Outcome<T>> Write<T>(Guid? commandId, DateTimeOffset now, Func<SqliteConnection, T> work) =>
        commandId is { } id ? writer.ExecuteOnceAsync(id, now, work) : writer.ExecuteAsync(work);

    // After commit and before the write returns, so that no read after it is stale.
    private async Task<Outcome<TransferResult>> Invalidating(Task<Outcome<TransferResult>> write)
    {
        var outcome = await write;
        if (outcome.Value is { Replayed: false } result)
        {
            await cache.InvalidateAsync(result.Transfer.FromUserId);
            await cache.InvalidateAsync(result.Transfer.ToUserId);
        }
        return outcome;
    }

    private static List<NotificationPush> Notify(SqliteConnection c, TransferView t, string at)
    {
        var received = NotificationText.ReceivedMessage(t.Amount, t.From);
        var sent = NotificationText.SentMessage(t.Amount, t.To);
        const string insert = "INSERT INTO notifications (user_id, type, message, transfer_id, amount, created_at) VALUES (@user, @type, @message, @transfer, @amount, @at) RETURNING id";
        var toId = c.QuerySingle<long>(insert, new { user = t.ToUserId, type = NotificationText.Received, message = received, transfer = t.TransferId, amount = t.Amount, at });
        var fromId = c.QuerySingle<long>(insert, new { user = t.FromUserId, type = NotificationText.Sent, message = sent, transfer = t.TransferId, amount = t.Amount, at });
        return
        [
            new NotificationPush(t.ToUserId, new NotificationView(toId, NotificationText.Received, received, false, t.TransferId, t.Amount, at)),
            new NotificationPush(t.FromUserId, new NotificationView(fromId, NotificationText.Sent, sent, false, t.TransferId, t.Amount, at)),
        ];
    }
}

internal sealed class TransferRow
{
    public long TransferId { get; set; }
    public string Status { get; set; } = "";
    public string FromName { get; set; } = "";
    public string ToName { get; set; } = "";
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
        new(TransferId, Status, FromName, ToName, ToAccountNumber, Amount, Note, ClientRef, HoldUntil, CreatedAt) { FromUserId = FromUserId, ToUserId = ToUserId };
}
