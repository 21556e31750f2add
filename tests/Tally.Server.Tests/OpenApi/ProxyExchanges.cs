using System.Text.RegularExpressions;

namespace Tally.Server.Tests.OpenApi;

/// <summary>What prism said about one exchange: <c>request</c> or <c>response</c>, its severity, and the message.</summary>
public sealed record Violation(string Side, string Severity, string Message)
{
    public override string ToString() => $"{Side} {Severity}: {Message}";
}

/// <summary>One request through prism, labelled with the operation it exercises, and what prism found.</summary>
public sealed record Exchange(string OperationId, string Method, string Target, int Status, bool InvalidOnPurpose, IReadOnlyList<Violation> Violations, string Body)
{
    public IEnumerable<Violation> RequestViolations => Violations.Where(v => v.Side == "request");

    public IEnumerable<Violation> ResponseViolations => Violations.Where(v => v.Side != "request");

    public override string ToString() =>
        $"{OperationId} {Method} {Target} -> {Status}{(InvalidOnPurpose ? " (invalid on purpose)" : "")}: "
        + string.Join("; ", Violations) + $"\n    body: {(Body.Length > 300 ? Body[..300] + "..." : Body)}";
}

/// <summary>An operation of the document: its method, its path template and the statuses it documents.</summary>
public sealed partial record DocumentedOperation(string Id, string Method, string PathTemplate, IReadOnlySet<int> Statuses)
{
    public bool Matches(string method, string path) =>
        string.Equals(method, Method, StringComparison.OrdinalIgnoreCase)
        && Regex.IsMatch(path, "^" + Parameter().Replace(Regex.Escape(PathTemplate).Replace(@"\{", "{", StringComparison.Ordinal), "[^/]+") + "$");

    /// <summary>Every operation of an OpenAPI document, by operationId.</summary>
    public static IReadOnlyDictionary<string, DocumentedOperation> ReadAll(JsonElement document)
    {
        var operations = new Dictionary<string, DocumentedOperation>(StringComparer.Ordinal);
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var item in path.Value.EnumerateObject())
            {
                if (item.Name is not ("get" or "put" or "post" or "delete" or "patch" or "head" or "options" or "trace"))
                {
                    continue;
                }
                var id = item.Value.TryGetProperty("operationId", out var value) ? value.GetString() : null;
                Assert.False(string.IsNullOrEmpty(id), $"{item.Name.ToUpperInvariant()} {path.Name} has no operationId");
                var statuses = item.Value.GetProperty("responses").EnumerateObject()
                    .Select(r => int.Parse(r.Name, CultureInfo.InvariantCulture))
                    .ToHashSet();
                Assert.True(operations.TryAdd(id!, new DocumentedOperation(id!, item.Name.ToUpperInvariant(), path.Name, statuses)), $"operationId {id} is not unique");
            }
        }
        return operations;
    }

    [GeneratedRegex(@"\{[^/}]+\}")]
    private static partial Regex Parameter();
}

/// <summary>
/// Sends requests through prism, each labelled with the operationId it exercises (checked against the document's
/// path template), and records the status and prism's <c>sl-violations</c> for every exchange.
/// </summary>
public sealed class ProxyExchanges(HttpClient proxy, IReadOnlyDictionary<string, DocumentedOperation> operations)
{
    private readonly List<Exchange> _exchanges = [];

    public IReadOnlyList<Exchange> All
    {
        get
        {
            lock (_exchanges)
            {
                return [.. _exchanges];
            }
        }
    }

    public static StringContent Json(string raw) => new(raw, Encoding.UTF8, "application/json");

    public static StringContent Json(object body) => Json(JsonSerializer.Serialize(body));

    /// <summary>A request with the session of <paramref name="session"/> as X-Session, or as a bearer token.</summary>
    public static HttpRequestMessage Request(HttpMethod method, string target, HttpContent? content = null, string? session = null, bool bearer = false)
    {
        var request = new HttpRequestMessage(method, target) { Content = content };
        if (session is not null)
        {
            if (bearer)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session);
            }
            else
            {
                request.Headers.Add("X-Session", session);
            }
        }
        return request;
    }

    /// <summary>
    /// Sends a request that is valid by the document (prism must find nothing in it), whatever Tally answers.
    /// </summary>
    public Task<HttpResponseMessage> SendAsync(string operationId, HttpRequestMessage request) => SendAsync(operationId, request, invalidOnPurpose: false);

    /// <summary>Sends a request that breaks the document on purpose: prism may flag the request, never the answer.</summary>
    public Task<HttpResponseMessage> SendInvalidAsync(string operationId, HttpRequestMessage request) => SendAsync(operationId, request, invalidOnPurpose: true);

    private async Task<HttpResponseMessage> SendAsync(string operationId, HttpRequestMessage request, bool invalidOnPurpose)
    {
        Assert.True(operations.TryGetValue(operationId, out var operation), $"The document has no operation {operationId}");
        var target = request.RequestUri!.OriginalString;
        var path = target.Split('?')[0];
        Assert.True(operation!.Matches(request.Method.Method, path), $"{request.Method} {path} is not {operationId} ({operation.Method} {operation.PathTemplate})");
        var response = await proxy.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        var body = await response.Content.ReadAsStringAsync();
        var violations = response.Headers.TryGetValues("sl-violations", out var values) ? ParseViolations(string.Join("", values)) : [];
        lock (_exchanges)
        {
            _exchanges.Add(new Exchange(operationId, request.Method.Method, target, (int)response.StatusCode, invalidOnPurpose, violations, body));
        }
        return response;
    }

    private static List<Violation> ParseViolations(string header)
    {
        if (!header.StartsWith('['))
        {
            // Prism truncates a header over 8 KB and says so: too many to read, and surely some in the answer.
            return [new Violation("response", "Error", header)];
        }
        using var document = JsonDocument.Parse(header);
        return
        [
            .. document.RootElement.EnumerateArray().Select(v => new Violation(
                v.TryGetProperty("location", out var location) && location.GetArrayLength() > 0 ? location[0].GetString() ?? "" : "",
                v.TryGetProperty("severity", out var severity) ? severity.GetString() ?? "" : "",
                (v.TryGetProperty("location", out var where) ? string.Join('.', where.EnumerateArray().Select(l => l.ToString())) + " " : "")
                    + (v.TryGetProperty("message", out var message) ? message.GetString() : ""))),
        ];
    }
}
