using Dapper;
using Microsoft.Data.Sqlite;

namespace Tally.Server.Storage;

/// <summary>The ledger's writes on SQLite, each run by the single writer inside its own savepoint.</summary>
public sealed class SqliteLedgerStore(WriteQueue writer, IAccountCache cache) : ILedgerStore, ICommandInbox
{
    public Task<Outcome<UserView>> RegisterAsync(string phone, string username, string passwordHash, DateTimeOffset now, Guid? commandId = null) =>
        Write(commandId, now, c =>
        {
            var at = Clock.Format(now);
            var id = c.QuerySingleOrDefault<long?>(
                "INSERT INTO users (phone, username, password_hash, created_at) VALUES (@phone, @username, @passwordHash, @at) ON CONFLICT (phone) DO NOTHING RETURNING id",
                new { phone, username, passwordHash, at });
            if (id is null)
            {
                throw new DomainException(LedgerErrors.PhoneExists);
            }
            string accountNumber;
            do
            {
                accountNumber = AccountNumber.NewRandom();
            }
            while (c.Execute("INSERT INTO accounts (id, account_number, kind) VALUES (@id, @accountNumber, 'user') ON CONFLICT (account_number) DO NOTHING", new { id, accountNumber }) == 0);

            c.Execute(
                "INSERT INTO transfers (from_account_id, to_account_id, amount, status, kind, note, created_at, resolved_at) VALUES (@bank, @id, @amount, @status, @kind, @note, @at, @at)",
                new { bank = Bank.AccountId, id, amount = Money.OpeningBalance, status = TransferStatus.Success, kind = TransferKind.Opening, note = Bank.OpeningNote, at });
            c.Execute("UPDATE accounts SET balance = balance - @amount WHERE id = @bank", new { bank = Bank.AccountId, amount = Money.OpeningBalance });
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
                VALUES (@from, @to, @amount, @status, @note, @clientRef, @hash, @holdUntil, @at, @resolvedAt)
                ON CONFLICT (from_account_id, client_ref) DO NOTHING RETURNING id
                """,
                new { from = t.FromUserId, to = t.To.Id, amount = t.Amount, status, note = t.Note, clientRef = t.ClientRef, hash = t.RequestHash, holdUntil, at, resolvedAt = t.Instant ? at : null });
            if (id is null)
            {
                var existing = c.QuerySingle<TransferRow>(LedgerSql.TransferSelect + " WHERE t.from_account_id = @from AND t.client_ref = @clientRef", new { from = t.FromUserId, clientRef = t.ClientRef });
                if (existing.RequestHash != t.RequestHash)
                {
                    throw new DomainException(LedgerErrors.DuplicateClientRef);
                }
                return new TransferResult(existing.ToView(), Replayed: true, []);
            }

            var debited = t.Instant
                ? c.Execute("UPDATE accounts SET balance = balance - @amount WHERE id = @from AND balance - held >= @amount", new { from = t.FromUserId, amount = t.Amount })
                : c.Execute("UPDATE accounts SET held = held + @amount WHERE id = @from AND balance - held >= @amount", new { from = t.FromUserId, amount = t.Amount });
            if (debited == 0)
            {
                throw new DomainException(LedgerErrors.InsufficientFunds);
            }

            var view = LedgerResults.View(id.Value, status, t.FromUsername, t.To.Username, t.To.AccountNumber, t.Amount, t.Note, t.ClientRef, holdUntil, at, t.FromUserId, t.To.Id);
            if (!t.Instant)
            {
                return LedgerResults.Result(view, replayed: false, null, null, at);
            }
            c.Execute("UPDATE accounts SET balance = balance + @amount WHERE id = @to", new { to = t.To.Id, amount = t.Amount });
            return Notify(c, view, at);
        }));

    public Task<Outcome<TransferResult>> ResolveHoldAsync(long userId, long? transferId, string? clientRef, bool confirm, DateTimeOffset now, Guid? commandId = null) =>
        Invalidating(Write(commandId, now, c =>
        {
            var row = transferId is { } tid
                ? c.QuerySingleOrDefault<TransferRow>(LedgerSql.TransferSelect + " WHERE t.id = @tid AND t.kind = @kind", new { tid, kind = TransferKind.Transfer })
                : c.QuerySingleOrDefault<TransferRow>(LedgerSql.TransferSelect + " WHERE t.from_account_id = @userId AND t.client_ref = @clientRef", new { userId, clientRef });
            if (row is null || (row.FromUserId != userId && row.ToUserId != userId))
            {
                throw new DomainException(LedgerErrors.TransferNotFound);
            }
            if (row.FromUserId != userId)
            {
                throw new DomainException(LedgerErrors.NotOwner);
            }
            var at = Clock.Format(now);
            if (row.Status != TransferStatus.Pending || string.CompareOrdinal(row.HoldUntil, at) <= 0)
            {
                throw new DomainException(LedgerErrors.InvalidState(row.Status, confirm));
            }
            var newStatus = confirm ? TransferStatus.Success : TransferStatus.Cancelled;
            c.Execute("UPDATE transfers SET status = @newStatus, resolved_at = @at WHERE id = @id AND status = @pending", new { newStatus, at, id = row.TransferId, pending = TransferStatus.Pending });
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
            return confirm ? Notify(c, view, at) : LedgerResults.Result(view, replayed: false, null, null, at);
        }));

    public async Task<int> ExpireHoldsAsync(DateTimeOffset now, int limit)
    {
        var outcome = await writer.ExecuteAsync(c =>
        {
            var at = Clock.Format(now);
            var expired = c.Query<(long Id, long From, long Amount)>(
                "SELECT id, from_account_id, amount FROM transfers WHERE status = @pending AND hold_until <= @at ORDER BY hold_until LIMIT @limit",
                new { at, limit, pending = TransferStatus.Pending }).AsList();
            foreach (var (id, from, amount) in expired)
            {
                c.Execute("UPDATE transfers SET status = @expired, resolved_at = @at WHERE id = @id", new { at, id, expired = TransferStatus.Expired });
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

    // The two notifications of a move of money, in its transaction; their texts are those of NotificationText.
    private static TransferResult Notify(SqliteConnection c, TransferView t, string at)
    {
        const string insert = "INSERT INTO notifications (user_id, type, message, transfer_id, amount, created_at) VALUES (@user, @type, @message, @transfer, @amount, @at) RETURNING id";
        var toId = c.QuerySingle<long>(insert, new { user = t.ToUserId, type = NotificationText.Received, message = NotificationText.ReceivedMessage(t.Amount, t.From), transfer = t.TransferId, amount = t.Amount, at });
        var fromId = c.QuerySingle<long>(insert, new { user = t.FromUserId, type = NotificationText.Sent, message = NotificationText.SentMessage(t.Amount, t.To), transfer = t.TransferId, amount = t.Amount, at });
        return LedgerResults.Result(t, replayed: false, toId, fromId, at);
    }
}
