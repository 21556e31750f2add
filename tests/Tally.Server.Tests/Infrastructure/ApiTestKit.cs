using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Tally.Server.Tests.Infrastructure;

/// <summary>One Tally instance shared by the tests of a class (xunit needs a fixture with a single public constructor).</summary>
public sealed class SharedTallyApp : TallyAppFactory
{
}

/// <summary>Tests that assert a time bound run in this collection, alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitiveCollection
{
    public const string Name = "Timing-sensitive";
}

/// <summary>Assertions and small request helpers over the HTTP contract of shared/API.md.</summary>
public static class ApiTestKit
{
    public const string ProblemContentType = "application/problem+json";

    public static StringContent JsonBody(string raw) => new(raw, Encoding.UTF8, "application/json");

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts a 200 (or the given status) and returns the JSON body; the failure message carries the body.</summary>
    public static async Task<JsonElement> AssertJsonAsync(this HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts an RFC 9457 problem with the given status and error code, and no leaked internals.</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string errorCode)
    {
        var problem = await AssertProblemShapeAsync(response);
        Assert.True(response.StatusCode == status, $"Expected {(int)status} {errorCode}, got {(int)response.StatusCode}: {problem}");
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal(errorCode, problem.GetProperty("error_code").GetString());
        return problem;
    }

    /// <summary>Asserts a 4xx problem with a non-empty error code, whatever the code.</summary>
    public static async Task<JsonElement> AssertClientProblemAsync(this HttpResponseMessage response)
    {
        var problem = await AssertProblemShapeAsync(response);
        var status = (int)response.StatusCode;
        Assert.True(status is >= 400 and < 500, $"Expected a 4xx, got {status}: {problem}");
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    private static async Task<JsonElement> AssertProblemShapeAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        Assert.True(mediaType == ProblemContentType, $"Expected {ProblemContentType}, got '{mediaType}' ({(int)response.StatusCode}): {text}");
        JsonElement problem;
        using (var document = JsonDocument.Parse(text))
        {
            problem = document.RootElement.Clone();
        }
        Assert.Equal(JsonValueKind.Object, problem.ValueKind);
        foreach (var field in new[] { "type", "title", "detail", "error_code", "trace_id" })
        {
            Assert.True(problem.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0, $"Problem lacks a non-empty '{field}': {text}");
        }
        Assert.Equal(JsonValueKind.Number, problem.GetProperty("status").ValueKind);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        return problem;
    }

    public static string Str(this JsonElement element, string property) =>
        element.GetProperty(property).GetString() ?? throw new InvalidOperationException($"'{property}' is null in {element}");

    public static long Long(this JsonElement element, string property) => element.GetProperty(property).GetInt64();

    public static bool IsNull(this JsonElement element, string property) =>
        !element.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null;

    /// <summary>Posts a transfer and asserts it succeeded; returns the transfer.</summary>
    public static async Task<JsonElement> TransferOkAsync(this HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync("/api/transfer/transfer", body);
        return await response.AssertJsonAsync();
    }

    public static async Task<(long Balance, long Available)> GetBalanceAsync(this HttpClient client)
    {
        var body = await (await client.GetAsync("/api/account/balance")).AssertJsonAsync();
        return (body.Long("balance"), body.Long("available"));
    }

    public static async Task<(long Balance, long Available)> GetBalanceAsync(this WebApplicationFactory<Program> factory, TestUser user)
    {
        using var client = factory.CreateClient(user);
        return await client.GetBalanceAsync();
    }

    public static async Task<JsonElement> GetAuditAsync(this WebApplicationFactory<Program> factory)
    {
        using var admin = factory.CreateAdminClient();
        return await (await admin.GetAsync("/api/account/admin/audit")).AssertJsonAsync();
    }

    /// <summary>Polls until <paramref name="probe"/> returns a value or the timeout passes; returns the last value.</summary>
    public static async Task<T?> PollAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, TimeSpan? interval = null)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = await probe();
            if (value is not null || DateTime.UtcNow >= deadline)
            {
                return value;
            }
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(100));
        }
    }
}

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
