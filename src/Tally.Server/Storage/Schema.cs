namespace Tally.Server.Storage;

/// <summary>The schema, as ordered migrations; each runs once, recorded in PRAGMA user_version.</summary>
internal static class Schema
{
    public static readonly string[] Migrations =
    [
        """
        CREATE TABLE users (
            id            INTEGER PRIMARY KEY,
            phone         TEXT    NOT NULL UNIQUE,
            username      TEXT    NOT NULL,
            password_hash TEXT    NOT NULL,
            created_at    TEXT    NOT NULL
        );
        CREATE INDEX ix_users_username ON users (username);

        -- A user's account shares the user's id; account 0 is the bank's equity account,
        -- which funds opening balances and so is the only account that may go negative.
        CREATE TABLE accounts (
            id             INTEGER PRIMARY KEY,
            account_number TEXT    NOT NULL UNIQUE,
            kind           TEXT    NOT NULL CHECK (kind IN ('user', 'equity')),
            balance        INTEGER NOT NULL DEFAULT 0,
            held           INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
            CHECK (kind = 'equity' OR balance >= held)
        );
        INSERT INTO accounts (id, account_number, kind) VALUES (0, '000000000000', 'equity');

        CREATE TABLE transfers (
            id              INTEGER PRIMARY KEY,
            from_account_id INTEGER NOT NULL REFERENCES accounts (id),
            to_account_id   INTEGER NOT NULL REFERENCES accounts (id),
            amount          INTEGER NOT NULL CHECK (amount > 0),
            status          TEXT    NOT NULL,
            kind            TEXT    NOT NULL DEFAULT 'transfer',
            note            TEXT,
            client_ref      TEXT,
            request_hash    TEXT,
            hold_until      TEXT,
            created_at      TEXT    NOT NULL,
            resolved_at     TEXT,
            CHECK (from_account_id <> to_account_id),
            UNIQUE (from_account_id, client_ref)
        );
        CREATE INDEX ix_transfers_from ON transfers (from_account_id, id);
        CREATE INDEX ix_transfers_to ON transfers (to_account_id, id);
        CREATE INDEX ix_transfers_pending ON transfers (hold_until) WHERE status = 'PENDING';

        CREATE TABLE notifications (
            id          INTEGER PRIMARY KEY,
            user_id     INTEGER NOT NULL REFERENCES users (id),
            type        TEXT    NOT NULL,
            message     TEXT    NOT NULL,
            is_read     INTEGER NOT NULL DEFAULT 0,
            transfer_id INTEGER REFERENCES transfers (id),
            amount      INTEGER,
            created_at  TEXT    NOT NULL
        );
        CREATE INDEX ix_notifications_user ON notifications (user_id, id);

        CREATE TABLE revoked_tokens (
            jti        TEXT    PRIMARY KEY,
            expires_at INTEGER NOT NULL
        );
        """,
        """
        -- The inbox: the id of every command that a broker may redeliver, written in the same transaction as the
        -- command's effect, with the outcome it had (JSON). A redelivered command finds its row and gets that
        -- outcome back instead of applying twice.
        CREATE TABLE command_inbox (
            command_id TEXT PRIMARY KEY,
            outcome    TEXT,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX ix_command_inbox_created ON command_inbox (created_at);
        """,
    ];
}
