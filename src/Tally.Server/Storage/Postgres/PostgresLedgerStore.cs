using System.Text.RegularExpressions;
using Npgsql;

namespace Tally.Server.Storage.Postgres;

/// <summary>
/// The ledger's writes on PostgreSQL, with the behaviour and outputs of <see cref="SqliteLedgerStore"/>. Money
/// moves only through the batching writer (one PL/pgSQL call per operation); writes that touch no money run
/// directly on a pooled connection. The functions receive every text and limit they write from here, with each call.
/// </summary>
public sealed partial class PostgresLedgerStore(PostgresWriteQueue writer, PostgresDatabase database, IAccountCache cache) : ILedgerStore, ICommandInbox
{
    // The *_once functions record the command id and the outcome row in command_inbox, in the same transaction.
    private const string TransferOnceSql = "SELECT * FROM tally_transfer_once($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
    private const string ResolveOnceSql = "SELECT * FROM tally_resolve_hold_once($1, $2, $3, $4, $5, $6, $7, $8)";
    private const string RegisterOnceSql = "SELECT o_id, o_account_number FROM tally_register_once($1, $2, $3, $4, $5, $6, $7, $8)";
    private const string TransferSql = "SELECT * FROM tally_transfer($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
    private const string ResolveSql = "SELECT * FROM tally_resolve_hold($1, $2, $3, $4, $5, $6, $7)";
    private const string RegisterSql = "SELECT o_id, o_account_number FROM tally_register($1, $2, $3, $4, $5, $6, $7)";
    private const string ExpireSql = "SELECT * FROM tally_expire_holds($1, $2)";
    private const int AccountNumberCandidates = 8;

    // NotificationText's formats for PostgreSQL's format(): {0} the amount, {1} the other party.
    private static readonly PgArg s_receivedFormat = PgArg.Text(ToPgFormat(NotificationText.ReceivedFormat));
    private static readonly PgArg s_sentFormat = PgArg.Text(ToPgFormat(NotificationText.SentFormat));

    public async Task<Outcome<UserView>> RegisterAsync(string phone, string username, string passwordHash, DateTimeOffset now, Guid? commandId = null)
    {
        var candidates = new string[AccountNumberCandidates];
        for (var i = 0; i < candidates.Length; i++)
        {
            candidates[i] = AccountNumber.NewRandom();
        }
        var rows = await writer.ExecuteAsync(
            commandId is null ? RegisterSql : RegisterOnceSql,
            [.. Inbox(commandId), PgArg.Text(phone), PgArg.Text(username), PgArg.Text(passwordHash), PgArg.Text(Clock.Format(now)), PgArg.TextArray(candidates), PgArg.Bigint(Money.OpeningBalance), PgArg.Text(Bank.OpeningNote)],
            r => r.IsDBNull(0) ? ((long Id, string Number)?)null : (r.GetInt64(0), r.GetString(1)));
        if (rows[0] is not { } created)
        {
            return LedgerErrors.PhoneExists;
        }
        return Outcome<UserView>.Ok(new UserView(created.Id, phone, username, created.Number, Money.OpeningBalance));
    }

    public async Task<Outcome<TransferResult>> TransferAsync(NewTransfer t, Guid? commandId = null)
    {
        var rows = await writer.ExecuteAsync(
            commandId is null ? TransferSql : TransferOnceSql,
            [
                .. Inbox(commandId),
                PgArg.Bigint(t.FromUserId), PgArg.Bigint(t.To.Id), PgArg.Bigint(t.Amount), PgArg.Bool(t.Instant), PgArg.Text(t.Note),
                PgArg.Text(t.ClientRef), PgArg.Text(t.RequestHash), PgArg.Text(Clock.Format(t.HoldUntil)), PgArg.Text(Clock.Format(t.Now)),
                PgArg.Text(t.FromUsername), PgArg.Text(t.To.Username), PgArg.Text(t.To.AccountNumber),
                s_receivedFormat, s_sentFormat,
            ],
            TransferCall.Read);
        return await OutcomeAsync(rows[0], Clock.Format(t.Now), confirm: false);
    }

    public async Task<Outcome<TransferResult>> ResolveHoldAsync(long userId, long? transferId, string? clientRef, bool confirm, DateTimeOffset now, Guid? commandId = null)
    {
        var rows = await writer.ExecuteAsync(
            commandId is null ? ResolveSql : ResolveOnceSql,
            [
                .. Inbox(commandId), PgArg.Bigint(userId), PgArg.Bigint(transferId), PgArg.Text(clientRef), PgArg.Bool(confirm), PgArg.Text(Clock.Format(now)),
                s_receivedFormat, s_sentFormat,
            ],
            TransferCall.Read);
        return await OutcomeAsync(rows[0], Clock.Format(now), confirm);
    }

    public async Task<int> ExpireHoldsAsync(DateTimeOffset now, int limit)
    {
        var senders = await writer.ExecuteAsync(ExpireSql, [PgArg.Text(Clock.Format(now)), PgArg.Int(limit)], r => r.GetInt64(0));
        foreach (var account in senders)
        {
            await cache.InvalidateAsync(account);
        }
        return senders.Count;
    }

    public async Task<bool> MarkNotificationReadAsync(long userId, long notificationId)
    {
        await using var command = database.DataSource.CreateCommand("UPDATE notifications SET is_read = true WHERE id = $1 AND user_id = $2");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = notificationId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = userId });
        return await command.ExecuteNonQueryAsync() > 0;
    }

    public async Task RevokeTokenAsync(string jti, DateTimeOffset expiresAt)
    {
        await using var batch = database.DataSource.CreateBatch();
        var purge = new NpgsqlBatchCommand("DELETE FROM revoked_tokens WHERE expires_at < $1");
        purge.Parameters.Add(new NpgsqlParameter<long> { TypedValue = DateTimeOffset.UtcNow.ToUnixTimeSeconds() });
        var insert = new NpgsqlBatchCommand("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING");
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = jti });
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expiresAt.ToUnixTimeSeconds() });
        batch.BatchCommands.Add(purge);
        batch.BatchCommands.Add(insert);
        await batch.ExecuteNonQueryAsync();
    }

    public async Task<int> PurgeAsync(DateTimeOffset before, int limit)
    {
        await using var command = database.DataSource.CreateCommand(
            "DELETE FROM command_inbox WHERE command_id IN (SELECT command_id FROM command_inbox WHERE created_at < $1 LIMIT $2)");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Clock.Format(before) });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        return await command.ExecuteNonQueryAsync();
    }

    private static PgArg[] Inbox(Guid? commandId) => commandId is { } id ? [PgArg.Uuid(id)] : [];

    /// <summary>A composite format ({0}, {1}) as a format() string of PostgreSQL (%1$s, %2$s).</summary>
    internal static string ToPgFormat(string composite) =>
        CompositeItem().Replace(composite.Replace("%", "%%", StringComparison.Ordinal), m => "%" + (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) + "$s");

    [GeneratedRegex(@"\{(\d+)\}")]
    private static partial Regex CompositeItem();

    // The error of a rejected call; for an applied one, the cache entries of both parties go after commit and before
    // the write returns, so that no read after it is stale.
    private async Task<Outcome<TransferResult>> OutcomeAsync(TransferCall call, string at, bool confirm)
    {
        if (call.Code != PostgresSchema.Ok)
        {
            return LedgerErrors.FromCode(call.Code, call.Status, confirm);
        }
        var result = call.ToResult(at);
        if (!result.Replayed)
        {
            await cache.InvalidateAsync(result.Transfer.FromUserId);
            await cache.InvalidateAsync(result.Transfer.ToUserId);
        }
        return Outcome<TransferResult>.Ok(result);
    }

    /// <summary>The row that tally_transfer and tally_resolve_hold return.</summary>
    private sealed record TransferCall(
        string Code, long? TransferId, string? Status, string? FromName, string? ToName, string? ToAccountNumber, long? Amount, string? Note,
        string? ClientRef, string? HoldUntil, string? CreatedAt, long? FromId, long? ToId, bool Replayed, long? ReceivedId, long? SentId)
    {
        /// <summary>When the call first ran; only the *_once functions return it (a replayed row keeps its first time).</summary>
        public string? At { get; init; }

        public static TransferCall Read(NpgsqlDataReader r) => new(
            r.GetString(0), Long(r, 1), Str(r, 2), Str(r, 3), Str(r, 4), Str(r, 5), Long(r, 6), Str(r, 7),
            Str(r, 8), Str(r, 9), Str(r, 10), Long(r, 11), Long(r, 12), !r.IsDBNull(13) && r.GetBoolean(13), Long(r, 14), Long(r, 15))
        {
            At = r.FieldCount > 16 ? Str(r, 16) : null,
        };

        /// <summary>The result, with the notifications the call wrote at <paramref name="notifiedAt"/>.</summary>
        public TransferResult ToResult(string notifiedAt) => LedgerResults.Result(
            LedgerResults.View(TransferId!.Value, Status!, FromName, ToName, ToAccountNumber!, Amount!.Value, Note, ClientRef, HoldUntil, CreatedAt!, FromId!.Value, ToId!.Value),
            Replayed, ReceivedId, SentId, At ?? notifiedAt);

        private static long? Long(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt64(i);

        private static string? Str(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
    }
}
