using System.Buffers.Text;
using System.Security.Cryptography;

namespace Tally.Testing;

/// <summary>Hand-made HS256 JWTs, to present forged, expired and unsigned tokens to the server.</summary>
public static class TestTokens
{
    public static string NewKeyBase64() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static string Segment(object value) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(value));

    public static string Sign(object payload, byte[] key, object? header = null)
    {
        var signingInput = Segment(header ?? new { alg = "HS256", typ = "JWT" }) + "." + Segment(payload);
        var signature = HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    public static string Unsigned(object payload) => Segment(new { alg = "none", typ = "JWT" }) + "." + Segment(payload) + ".";

    public static object Claims(long userId, DateTimeOffset issuedAt, DateTimeOffset expires, string issuer = "tally", string audience = "tally") => new
    {
        sub = userId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        jti = Guid.NewGuid().ToString("N"),
        iss = issuer,
        aud = audience,
        iat = issuedAt.ToUnixTimeSeconds(),
        nbf = issuedAt.ToUnixTimeSeconds(),
        exp = expires.ToUnixTimeSeconds(),
    };

    /// <summary>Decodes the payload of a JWT, to build look-alike tokens from a real one.</summary>
    public static JsonElement Payload(string token)
    {
        var parts = token.Split('.');
        Assert.Equal(3, parts.Length);
        using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        return document.RootElement.Clone();
    }
}
