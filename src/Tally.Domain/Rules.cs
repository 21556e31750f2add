using System.Security.Cryptography;

namespace Tally.Domain;

public static class Phone
{
    public const int MinDigits = 8;
    public const int MaxDigits = 15;

    public static bool IsValid(string? phone) =>
        phone is { Length: >= MinDigits and <= MaxDigits } && phone.All(char.IsAsciiDigit);

    /// <summary>The first two digits, a star for each hidden digit, then the last two.</summary>
    public static string Mask(string phone) =>
        phone.Length <= 4 ? new string('*', phone.Length) : string.Concat(phone.AsSpan(0, 2), new string('*', phone.Length - 4), phone.AsSpan(phone.Length - 2));
}

public static class Username
{
    public const int MaxLength = 50;

    /// <summary>Trims and checks a display name; null when it is empty, too long or holds control characters.</summary>
    public static string? Normalize(string? username)
    {
        var trimmed = username?.Trim();
        if (string.IsNullOrEmpty(trimmed) || trimmed.Length > MaxLength || trimmed.Any(char.IsControl))
        {
            return null;
        }
        return trimmed;
    }
}

public static class Password
{
    public const int MinLength = 8;
    public const int MaxLength = 128;

    public static bool IsAcceptable(string? password) => password is { Length: >= MinLength and <= MaxLength };
}

public static class AccountNumber
{
    public const int Length = 12;

    /// <summary>Reserved for the bank's equity account; never handed to a user.</summary>
    public const string Bank = "000000000000";

    public static bool IsValid(string? value) => value is { Length: Length } && value.All(char.IsAsciiDigit);

    public static string NewRandom()
    {
        Span<byte> bytes = stackalloc byte[8];
        while (true)
        {
            RandomNumberGenerator.Fill(bytes);
            var number = (long)(BitConverter.ToUInt64(bytes) % 1_000_000_000_000UL);
            var value = number.ToString("D12", System.Globalization.CultureInfo.InvariantCulture);
            if (value != Bank)
            {
                return value;
            }
        }
    }
}

public static class Money
{
    public const long OpeningBalance = 100_000;
    public const long DefaultMaxAmount = 1_000_000_000_000;

    public static bool IsValidAmount(long amount, long max) => amount >= 1 && amount <= max;
}

public static class TransferText
{
    public const int MaxNoteLength = 140;
    public const int MaxClientRefLength = 64;

    public static bool IsValidNote(string? note) => note is null || (note.Length <= MaxNoteLength && !note.Any(c => char.IsControl(c) && c != '\n'));

    public static bool IsValidClientRef(string? clientRef) =>
        clientRef is null || (clientRef.Length is >= 1 and <= MaxClientRefLength && !clientRef.Any(char.IsControl));
}

public static class TransferStatus
{
    public const string Pending = "PENDING";
    public const string Success = "SUCCESS";
    public const string Cancelled = "CANCELLED";
    public const string Expired = "EXPIRED";
}

public static class Paging
{
    public const int DefaultSize = 20;
    public const int MaxSize = 100;

    /// <summary>Checks page and size (page from 1, size 1 to 100); null when either is out of range or not a number.</summary>
    public static (int Page, int Size)? Parse(string? page, string? size)
    {
        var p = 1;
        var s = DefaultSize;
        if (!string.IsNullOrEmpty(page) && (!int.TryParse(page, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out p) || p < 1 || p > 1_000_000))
        {
            return null;
        }
        if (!string.IsNullOrEmpty(size) && (!int.TryParse(size, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out s) || s < 1 || s > MaxSize))
        {
            return null;
        }
        return (p, s);
    }

    public static int Pages(long total, int size) => (int)((total + size - 1) / size);
}
