using System.Globalization;

namespace Tally.Domain;

/// <summary>
/// The notifications a transfer writes. The texts are composite formats ({0} the amount, {1} the other party), so
/// that the PostgreSQL functions receive these same formats as parameters instead of keeping copies of their own.
/// </summary>
public static class NotificationText
{
    public const string Received = "transfer_received";
    public const string Sent = "transfer_sent";

    public const string ReceivedFormat = "You received {0} from {1}";
    public const string SentFormat = "You sent {0} to {1}";

    public static string ReceivedMessage(long amount, string from) => string.Format(CultureInfo.InvariantCulture, ReceivedFormat, amount, from);

    public static string SentMessage(long amount, string to) => string.Format(CultureInfo.InvariantCulture, SentFormat, amount, to);
}

/// <summary>The bank's own side of the ledger: the equity account that funds opening balances, as users see it.</summary>
public static class Bank
{
    /// <summary>The id of the equity account; user accounts share their user's id, which starts at 1.</summary>
    public const long AccountId = 0;

    /// <summary>The name shown for the bank where a user's name would be (the opening balance's sender).</summary>
    public const string DisplayName = "Tally Bank";

    /// <summary>The note of the transfer that funds a new account.</summary>
    public const string OpeningNote = "Opening balance";
}

/// <summary>The rules the ledger itself enforces, each with its code, status and sentence, defined once for every store.</summary>
public static class LedgerErrors
{
    public static DomainError PhoneExists { get; } =
        DomainError.Conflict(ErrorCodes.PhoneExists, "A user with this phone number already exists.");

    public static DomainError InsufficientFunds { get; } =
        DomainError.BadRequest(ErrorCodes.InsufficientFunds, "The available balance is too low for this transfer.");

    public static DomainError DuplicateClientRef { get; } =
        DomainError.Conflict(ErrorCodes.DuplicateClientRef, "This client_ref was already used for a different transfer.");

    public static DomainError TransferNotFound { get; } =
        DomainError.NotFound(ErrorCodes.TransferNotFound, "No such transfer.");

    public static DomainError NotOwner { get; } =
        DomainError.Forbidden(ErrorCodes.NotOwner, "Only the sender may confirm or cancel a transfer.");

    /// <summary>A hold that can no longer be resolved: already resolved, or pending past its hold_until (then expired).</summary>
    public static DomainError InvalidState(string status, bool confirm)
    {
        var state = status == TransferStatus.Pending ? "expired" : status.ToLowerInvariant();
        return DomainError.Conflict(ErrorCodes.InvalidState, $"The transfer is {state} and can no longer be {(confirm ? "confirmed" : "cancelled")}.");
    }

    /// <summary>
    /// The error for a code that a store's ledger function returned (the PostgreSQL functions return codes rather than
    /// raise, so that one rejected transfer never aborts the batch it shares a commit with).
    /// </summary>
    public static DomainError FromCode(string code, string? status, bool confirm) => code switch
    {
        ErrorCodes.PhoneExists => PhoneExists,
        ErrorCodes.InsufficientFunds => InsufficientFunds,
        ErrorCodes.DuplicateClientRef => DuplicateClientRef,
        ErrorCodes.TransferNotFound => TransferNotFound,
        ErrorCodes.NotOwner => NotOwner,
        ErrorCodes.InvalidState => InvalidState(status ?? TransferStatus.Pending, confirm),
        _ => throw new InvalidOperationException($"A ledger function returned an unknown code '{code}'."),
    };
}
