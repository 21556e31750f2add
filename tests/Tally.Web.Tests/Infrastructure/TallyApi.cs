namespace Tally.Web.Tests.Infrastructure;

/// <summary>A person of the scenario, with a phone that no other test run uses.</summary>
public sealed record Person(string Name, string Phone, string Password)
{
    public static Person Create(string name) =>
        new(name, "555" + Random.Shared.NextInt64(1_000_000, 10_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture),
            $"{name.ToLowerInvariant()}-secret-{Random.Shared.Next(1000, 9999)}");
}

/// <summary>Direct API calls, for what a test sets up or checks outside the browser.</summary>
internal sealed class TallyApi(Uri baseUrl) : IDisposable
{
    private readonly HttpClient _client = new() { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };

    public async Task<string> RegisterAsync(Person person)
    {
        using var response = await _client.PostAsJsonAsync("/api/auth/register", new { phone = person.Phone, username = person.Name, password = person.Password });
        var body = await ReadAsync(response, 200);
        return body.GetProperty("account_number").GetString()!;
    }

    public async Task<string> LoginAsync(Person person)
    {
        using var response = await _client.PostAsJsonAsync("/api/auth/login", new { phone = person.Phone, password = person.Password });
        return (await ReadAsync(response, 200)).GetProperty("session").GetString()!;
    }

    public async Task<JsonElement> SendAsync(HttpMethod method, string path, string? session, object? body, int expectedStatus, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, path);
        if (session is not null)
        {
            request.Headers.Add("X-Session", session);
        }
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        using var response = await _client.SendAsync(request);
        return await ReadAsync(response, expectedStatus);
    }

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response, int expectedStatus)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == expectedStatus, $"{response.RequestMessage?.RequestUri}: expected {expectedStatus}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public void Dispose() => _client.Dispose();
}
