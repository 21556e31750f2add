namespace Tally.Server.Storage;

/// <summary>The SQLite schema, as ordered migrations; each runs once, recorded in PRAGMA user_version.</summary>
internal static class Schema
{
    public static readonly string[] Migrations =
    [
        LedgerSchema.Tables(SqlDialect.Sqlite),
        LedgerSchema.Inbox(SqlDialect.Sqlite),
    ];
}
