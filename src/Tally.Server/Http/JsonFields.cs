namespace Tally.Server.Http;

/// <summary>
/// Reads loosely typed request fields, so that a wrong JSON type is the field's own 4xx
/// (a float amount is INVALID_AMOUNT) rather than a generic parse failure.
/// </summary>
public static class JsonFields
{
    public static bool IsAbsent(this JsonElement? element) => element is null || element.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    /// <summary>False when the field is present but not a string; absent gives true and null.</summary>
    public static bool TryGetString(this JsonElement? element, out string? value)
    {
        value = null;
        if (element.IsAbsent())
        {
            return true;
        }
        if (element!.Value.ValueKind != JsonValueKind.String)
        {
            return false;
        }
        value = element.Value.GetString();
        return true;
    }

    /// <summary>A JSON integer (no fraction, no exponent, no string) from 1 to <paramref name="max"/>.</summary>
    public static bool TryGetAmount(this JsonElement? element, long max, out long amount)
    {
        amount = 0;
        if (element.IsAbsent() || element!.Value.ValueKind != JsonValueKind.Number)
        {
            return false;
        }
        var raw = element.Value.GetRawText();
        if (raw.AsSpan().IndexOfAny('.', 'e', 'E') >= 0)
        {
            return false;
        }
        return element.Value.TryGetInt64(out amount) && amount >= 1 && amount <= max;
    }

    /// <summary>A positive integer id, given as a JSON integer.</summary>
    public static bool TryGetId(this JsonElement? element, out long id)
    {
        id = 0;
        return !element.IsAbsent()
            && element!.Value.ValueKind == JsonValueKind.Number
            && element.Value.GetRawText().AsSpan().IndexOfAny('.', 'e', 'E') < 0
            && element.Value.TryGetInt64(out id)
            && id > 0;
    }

    /// <summary>False when present but not a boolean; absent gives <paramref name="fallback"/>.</summary>
    public static bool TryGetBool(this JsonElement? element, bool fallback, out bool value)
    {
        value = fallback;
        if (element.IsAbsent())
        {
            return true;
        }
        switch (element!.Value.ValueKind)
        {
            case JsonValueKind.True:
                value = true;
                return true;
            case JsonValueKind.False:
                value = false;
                return true;
            default:
                return false;
        }
    }
}
