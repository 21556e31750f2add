namespace Tally.Server.Storage.Postgres;

/// <summary>
/// The PostgreSQL schema, as ordered migrations recorded in <c>tally_schema_migrations</c>: the tables of
/// <see cref="LedgerSchema"/>, then one PL/pgSQL function per write kind: a whole transfer in one call, its business
/// failures returned as an error code rather than raised, so that one rejected transfer never aborts the batch it
/// shares a commit with. The functions hold no text that a user sees and no limit: the caller passes the
/// notification formats, the opening balance and its note as parameters on every call, so those are defined in C#
/// only. The codes and statuses they write are C#'s constants, written into the function text when it is built.
/// </summary>
internal static class PostgresSchema
{
    /// <summary>The advisory lock key that serialises migrations across instances starting at once.</summary>
    public const long MigrationLockKey = 0x7A11_7A11_0001;

    /// <summary>The advisory lock key every writer batch takes, so that batches of different instances never interleave.</summary>
    public const long WriterLockKey = 0x7A11_7A11_0002;

    /// <summary>The code a ledger function returns when the write applied (or was replayed); any other code is an <see cref="ErrorCodes"/> value.</summary>
    public const string Ok = "OK";

    public static readonly string[] Migrations =
    [
        LedgerSchema.Tables(SqlDialect.Postgres),
        LedgerSchema.Inbox(SqlDialect.Postgres) + """

        -- The row of tally_transfer and tally_resolve_hold, plus o_at: when the call ran (its notifications' time).
        CREATE TYPE tally_transfer_outcome AS (
            o_code text, o_transfer_id bigint, o_status text, o_from_name text, o_to_name text,
            o_to_account_number text, o_amount bigint, o_note text, o_client_ref text,
            o_hold_until text, o_created_at text, o_from_id bigint, o_to_id bigint,
            o_replayed boolean, o_received_id bigint, o_sent_id bigint, o_at text);
        """,
        Functions(),
    ];

    // The transfer row as the functions read it, into their OUT parameters (and any more); a party without a user
    // row (the bank) has a null name, which the store shows as Bank.DisplayName.
    private static string SelectTransferInto(string moreColumns = "", string moreTargets = "") => $"""
        SELECT t.id, t.status, fu.username, tu.username, ta.account_number,
                       t.amount, t.note, t.client_ref, t.hold_until, t.created_at, t.from_account_id, t.to_account_id{moreColumns}
                  INTO o_transfer_id, o_status, o_from_name, o_to_name, o_to_account_number,
                       o_amount, o_note, o_client_ref, o_hold_until, o_created_at, o_from_id, o_to_id{moreTargets}
                  FROM transfers t
                  JOIN accounts ta ON ta.id = t.to_account_id
                  LEFT JOIN users fu ON fu.id = t.from_account_id
                  LEFT JOIN users tu ON tu.id = t.to_account_id
        """;

    private const string TransferOutputs = """
        OUT o_code text, OUT o_transfer_id bigint, OUT o_status text, OUT o_from_name text, OUT o_to_name text,
            OUT o_to_account_number text, OUT o_amount bigint, OUT o_note text, OUT o_client_ref text,
            OUT o_hold_until text, OUT o_created_at text, OUT o_from_id bigint, OUT o_to_id bigint,
            OUT o_replayed boolean, OUT o_received_id bigint, OUT o_sent_id bigint
        """;

    private const string TransferParameters = """
        p_from bigint, p_to bigint, p_amount bigint, p_instant boolean, p_note text, p_client_ref text,
            p_request_hash text, p_hold_until text, p_at text, p_from_name text, p_to_name text, p_to_number text,
            p_received_format text, p_sent_format text
        """;

    private const string TransferArguments = """
        p_from, p_to, p_amount, p_instant, p_note, p_client_ref, p_request_hash, p_hold_until, p_at,
                                  p_from_name, p_to_name, p_to_number, p_received_format, p_sent_format
        """;

    private const string ResolveParameters = "p_user bigint, p_transfer_id bigint, p_client_ref text, p_confirm boolean, p_at text, p_received_format text, p_sent_format text";

    private const string ResolveArguments = "p_user, p_transfer_id, p_client_ref, p_confirm, p_at, p_received_format, p_sent_format";

    private const string RegisterParameters = "p_phone text, p_username text, p_password_hash text, p_at text, p_numbers text[], p_opening bigint, p_opening_note text";

    private const string RegisterArguments = "p_phone, p_username, p_password_hash, p_at, p_numbers, p_opening, p_opening_note";

    // Runs a function once per command id: the id and the outcome row go into command_inbox in the same transaction;
    // a redelivery finds the id (the primary key decides) and gets the stored row back.
    private static string Once(string name, string parameters, string call) => $$"""
        CREATE FUNCTION {{name}}_once(p_command_id uuid, {{parameters}})
        RETURNS tally_transfer_outcome
        LANGUAGE plpgsql AS $fn$
        DECLARE
            v_row tally_transfer_outcome;
        BEGIN
            INSERT INTO command_inbox (command_id, created_at) VALUES (p_command_id, p_at) ON CONFLICT (command_id) DO NOTHING;
            IF NOT FOUND THEN
                SELECT * INTO v_row FROM jsonb_populate_record(NULL::tally_transfer_outcome,
                    (SELECT i.outcome FROM command_inbox i WHERE i.command_id = p_command_id));
                RETURN v_row;
            END IF;
            SELECT t.*, p_at INTO v_row FROM {{name}}({{call}}) t;
            UPDATE command_inbox SET outcome = to_jsonb(v_row) WHERE command_id = p_command_id;
            RETURN v_row;
        END
        $fn$;
        """;

    // The two notifications of a move of money, their texts from the formats the caller passed: {0} the amount,
    // {1} the other party.
    private static string Notify(string from, string to, string amount, string fromName, string toName) => $"""
        INSERT INTO notifications (user_id, type, message, transfer_id, amount, created_at)
                VALUES ({to}, '{NotificationText.Received}', format(p_received_format, {amount}, {fromName}), o_transfer_id, {amount}, p_at)
                RETURNING id INTO o_received_id;
                INSERT INTO notifications (user_id, type, message, transfer_id, amount, created_at)
                VALUES ({from}, '{NotificationText.Sent}', format(p_sent_format, {amount}, {toName}), o_transfer_id, {amount}, p_at)
                RETURNING id INTO o_sent_id;
        """;

    private static string Functions() => $$"""
        -- The functions of the first migrations, which took finished notification texts or held copies of them.
        DROP FUNCTION IF EXISTS tally_register(text, text, text, text, text[], bigint);
        DROP FUNCTION IF EXISTS tally_register_once(uuid, text, text, text, text, text[], bigint);
        DROP FUNCTION IF EXISTS tally_transfer(bigint, bigint, bigint, boolean, text, text, text, text, text, text, text, text, text, text);
        DROP FUNCTION IF EXISTS tally_transfer_once(uuid, bigint, bigint, bigint, boolean, text, text, text, text, text, text, text, text, text, text);
        DROP FUNCTION IF EXISTS tally_resolve_hold(bigint, bigint, text, boolean, text);
        DROP FUNCTION IF EXISTS tally_resolve_hold_once(uuid, bigint, bigint, text, boolean, text);
        DROP FUNCTION IF EXISTS tally_expire_holds(text, integer);

        -- Registers a user, opens the account (the first free number of the candidates) and funds it from equity with
        -- p_opening, noted p_opening_note. o_id is null when the phone is taken.
        CREATE FUNCTION tally_register({{RegisterParameters}}, OUT o_id bigint, OUT o_account_number text)
        LANGUAGE plpgsql AS $fn$
        DECLARE
            v_number text;
        BEGIN
            INSERT INTO users (phone, username, password_hash, created_at)
            VALUES (p_phone, p_username, p_password_hash, p_at)
            ON CONFLICT (phone) DO NOTHING
            RETURNING id INTO o_id;
            IF o_id IS NULL THEN
                RETURN;
            END IF;
            FOREACH v_number IN ARRAY p_numbers LOOP
                INSERT INTO accounts (id, account_number, kind) VALUES (o_id, v_number, 'user')
                ON CONFLICT (account_number) DO NOTHING;
                IF FOUND THEN
                    o_account_number := v_number;
                    EXIT;
                END IF;
            END LOOP;
            IF o_account_number IS NULL THEN
                RAISE EXCEPTION 'no free account number among % candidates', cardinality(p_numbers);
            END IF;
            INSERT INTO transfers (from_account_id, to_account_id, amount, status, kind, note, created_at, resolved_at)
            VALUES ({{Bank.AccountId}}, o_id, p_opening, '{{TransferStatus.Success}}', '{{TransferKind.Opening}}', p_opening_note, p_at, p_at);
            UPDATE accounts SET balance = balance - p_opening WHERE id = {{Bank.AccountId}};
            UPDATE accounts SET balance = balance + p_opening WHERE id = o_id;
        END
        $fn$;

        CREATE FUNCTION tally_register_once(p_command_id uuid, {{RegisterParameters}}, OUT o_id bigint, OUT o_account_number text)
        LANGUAGE plpgsql AS $fn$
        DECLARE
            v_outcome jsonb;
        BEGIN
            INSERT INTO command_inbox (command_id, created_at) VALUES (p_command_id, p_at) ON CONFLICT (command_id) DO NOTHING;
            IF NOT FOUND THEN
                SELECT i.outcome INTO v_outcome FROM command_inbox i WHERE i.command_id = p_command_id;
                o_id := (v_outcome ->> 'o_id')::bigint;
                o_account_number := v_outcome ->> 'o_account_number';
                RETURN;
            END IF;
            SELECT r.o_id, r.o_account_number INTO o_id, o_account_number FROM tally_register({{RegisterArguments}}) r;
            UPDATE command_inbox SET outcome = jsonb_build_object('o_id', o_id, 'o_account_number', o_account_number)
             WHERE command_id = p_command_id;
        END
        $fn$;

        -- One whole transfer (instant, or a hold when p_instant is false). o_code is {{Ok}}, {{ErrorCodes.InsufficientFunds}} or
        -- {{ErrorCodes.DuplicateClientRef}}; a replay of the same (sender, client_ref) and payload returns the original
        -- transfer with o_replayed and moves nothing. The two account rows are locked in id order first, so
        -- concurrent callers cannot deadlock, and the sender's lock serialises its client_refs. The notifications'
        -- texts are format(p_received_format, amount, sender) and format(p_sent_format, amount, receiver).
        CREATE FUNCTION tally_transfer({{TransferParameters}}, {{TransferOutputs}})
        LANGUAGE plpgsql AS $fn$
        DECLARE
            v_hash text;
        BEGIN
            o_replayed := false;
            PERFORM 1 FROM accounts WHERE id IN (p_from, p_to) ORDER BY id FOR UPDATE;

            IF p_client_ref IS NOT NULL THEN
                {{SelectTransferInto(", t.request_hash", ", v_hash")}}
                 WHERE t.from_account_id = p_from AND t.client_ref = p_client_ref;
                IF FOUND THEN
                    IF v_hash IS DISTINCT FROM p_request_hash THEN
                        o_code := '{{ErrorCodes.DuplicateClientRef}}';
                    ELSE
                        o_code := '{{Ok}}';
                        o_replayed := true;
                    END IF;
                    RETURN;
                END IF;
            END IF;

            IF p_instant THEN
                UPDATE accounts SET balance = balance - p_amount WHERE id = p_from AND balance - held >= p_amount;
            ELSE
                UPDATE accounts SET held = held + p_amount WHERE id = p_from AND balance - held >= p_amount;
            END IF;
            IF NOT FOUND THEN
                o_code := '{{ErrorCodes.InsufficientFunds}}';
                RETURN;
            END IF;

            o_status := CASE WHEN p_instant THEN '{{TransferStatus.Success}}' ELSE '{{TransferStatus.Pending}}' END;
            INSERT INTO transfers (from_account_id, to_account_id, amount, status, note, client_ref, request_hash, hold_until, created_at, resolved_at)
            VALUES (p_from, p_to, p_amount, o_status, p_note, p_client_ref, p_request_hash,
                    CASE WHEN p_instant THEN NULL ELSE p_hold_until END, p_at, CASE WHEN p_instant THEN p_at END)
            RETURNING id INTO o_transfer_id;

            o_code := '{{Ok}}';
            o_from_name := p_from_name;
            o_to_name := p_to_name;
            o_to_account_number := p_to_number;
            o_amount := p_amount;
            o_note := p_note;
            o_client_ref := p_client_ref;
            o_hold_until := CASE WHEN p_instant THEN NULL ELSE p_hold_until END;
            o_created_at := p_at;
            o_from_id := p_from;
            o_to_id := p_to;
            IF p_instant THEN
                UPDATE accounts SET balance = balance + p_amount WHERE id = p_to;
                {{Notify("p_from", "p_to", "p_amount", "p_from_name", "p_to_name")}}
            END IF;
        END
        $fn$;

        {{Once("tally_transfer", TransferParameters, TransferArguments)}}

        -- Confirms or cancels a pending hold, exactly once. o_code is {{Ok}}, {{ErrorCodes.TransferNotFound}}, {{ErrorCodes.NotOwner}} or
        -- {{ErrorCodes.InvalidState}} (then o_status is the state it is in). Locks the transfer, then its accounts in id order.
        -- A confirm writes the notifications as tally_transfer does, from the formats it is given.
        CREATE FUNCTION tally_resolve_hold({{ResolveParameters}}, {{TransferOutputs}})
        LANGUAGE plpgsql AS $fn$
        BEGIN
            o_replayed := false;
            IF p_transfer_id IS NOT NULL THEN
                {{SelectTransferInto()}}
                 WHERE t.id = p_transfer_id AND t.kind = '{{TransferKind.Transfer}}'
                   FOR UPDATE OF t;
            ELSE
                {{SelectTransferInto()}}
                 WHERE t.from_account_id = p_user AND t.client_ref = p_client_ref
                   FOR UPDATE OF t;
            END IF;
            IF NOT FOUND OR (o_from_id <> p_user AND o_to_id <> p_user) THEN
                o_code := '{{ErrorCodes.TransferNotFound}}';
                RETURN;
            END IF;
            IF o_from_id <> p_user THEN
                o_code := '{{ErrorCodes.NotOwner}}';
                RETURN;
            END IF;
            IF o_status <> '{{TransferStatus.Pending}}' OR o_hold_until <= p_at THEN
                o_code := '{{ErrorCodes.InvalidState}}';
                RETURN;
            END IF;

            PERFORM 1 FROM accounts WHERE id IN (o_from_id, o_to_id) ORDER BY id FOR UPDATE;
            o_status := CASE WHEN p_confirm THEN '{{TransferStatus.Success}}' ELSE '{{TransferStatus.Cancelled}}' END;
            UPDATE transfers SET status = o_status, resolved_at = p_at WHERE id = o_transfer_id AND status = '{{TransferStatus.Pending}}';
            o_code := '{{Ok}}';
            IF p_confirm THEN
                UPDATE accounts SET held = held - o_amount, balance = balance - o_amount WHERE id = o_from_id;
                UPDATE accounts SET balance = balance + o_amount WHERE id = o_to_id;
                {{Notify("o_from_id", "o_to_id", "o_amount", "o_from_name", "o_to_name")}}
            ELSE
                UPDATE accounts SET held = held - o_amount WHERE id = o_from_id;
            END IF;
        END
        $fn$;

        {{Once("tally_resolve_hold", ResolveParameters, ResolveArguments)}}

        -- Expires up to p_limit holds that reached hold_until; returns the sender of each. Holds locked by
        -- someone else are skipped (a confirm or cancel is deciding them), and the accounts are locked in id order.
        CREATE FUNCTION tally_expire_holds(p_at text, p_limit integer)
        RETURNS SETOF bigint
        LANGUAGE plpgsql AS $fn$
        DECLARE
            v_ids bigint[];
            v_from bigint[];
            v_amounts bigint[];
        BEGIN
            SELECT array_agg(d.id), array_agg(d.from_account_id), array_agg(d.amount)
              INTO v_ids, v_from, v_amounts
              FROM (SELECT id, from_account_id, amount FROM transfers
                     WHERE status = '{{TransferStatus.Pending}}' AND hold_until <= p_at
                     ORDER BY hold_until LIMIT p_limit
                       FOR UPDATE SKIP LOCKED) d;
            IF v_ids IS NULL THEN
                RETURN;
            END IF;
            PERFORM 1 FROM accounts WHERE id = ANY (v_from) ORDER BY id FOR UPDATE;
            UPDATE transfers SET status = '{{TransferStatus.Expired}}', resolved_at = p_at WHERE id = ANY (v_ids);
            UPDATE accounts a SET held = a.held - s.total
              FROM (SELECT u.f, SUM(u.amt)::bigint AS total FROM unnest(v_from, v_amounts) AS u (f, amt) GROUP BY u.f) s
             WHERE a.id = s.f;
            RETURN QUERY SELECT unnest(v_from);
        END
        $fn$;
        """;
}
