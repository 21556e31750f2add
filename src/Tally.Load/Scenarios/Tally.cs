using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json.Serialization;

namespace Tally.Load.Scenarios;

public sealed record SeededUser(
    [property: JsonPropertyName("phone")] string Phone,
    [property: JsonPropertyName("password")] string Password,
    [property: JsonPropertyName("account_number")] string AccountNumber,
    [property: JsonPropertyName("id")] long Id);

public sealed record AuditResult(bool Ok, long LedgerSum, string Raw)
{
    public bool Passed => Ok && LedgerSum == 0;
}

/// <summary>The few calls of the Tally API that seeding, log-in and the audit need.</summary>
public static class TallyApi
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static string PhoneFor(string prefix, int index) => prefix + index.ToString("D7", System.Globalization.CultureInfo.InvariantCulture);

    public static string PasswordFor(int index) => $"load-pass-{index:D7}";

    /// <summary>Registers one user; a 409 PHONE_EXISTS means it is already there and is logged in instead.</summary>
    public static async Task<(SeededUser User, bool Existed)> EnsureUserAsync(HttpClient client, Uri baseUri, string phone, string password, CancellationToken ct)
    {
        using var response = await PoliteAsync(() => client.PostAsJsonAsync(new Uri(baseUri, "/api/auth/register"),
            new { phone, username = "load-" + phone[^4..], password }, ct), ct).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            return (new SeededUser(phone, password, doc.RootElement.GetProperty("account_number").GetString()!, doc.RootElement.GetProperty("id").GetInt64()), false);
        }
        if ((int)response.StatusCode != 409)
        {
            throw new HttpRequestException($"register {phone}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)}");
        }
        var session = await LoginAsync(client, baseUri, phone, password, ct).ConfigureAwait(false);
        using var me = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, "/api/account/me"));
        me.Headers.Add("X-Session", session);
        using var meResponse = await client.SendAsync(me, ct).ConfigureAwait(false);
        meResponse.EnsureSuccessStatusCode();
        using var meDoc = JsonDocument.Parse(await meResponse.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
        return (new SeededUser(phone, password, meDoc.RootElement.GetProperty("account_number").GetString()!, meDoc.RootElement.GetProperty("id").GetInt64()), true);
    }

    /// <summary>
    /// Setup requests (seeding, logging in before a run) behave as a polite client: a refusal that says when to
    /// come back (503 or 429 with <c>Retry-After</c>, such as Tally's OVERLOADED while a burst of logins fills
    /// its login bulkhead) is tried again after that long, with jitter, up to 20 times.
    /// </summary>
    private static async Task<HttpResponseMessage> PoliteAsync(Func<Task<HttpResponseMessage>> send, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var response = await send().ConfigureAwait(false);
            if (attempt >= 20 || (int)response.StatusCode is not (503 or 429) || response.Headers.RetryAfter?.Delta is not { } wait)
            {
                return response;
            }
            response.Dispose();
            var capped = Math.Min(wait.TotalMilliseconds, 2_000);
            await Task.Delay(TimeSpan.FromMilliseconds((capped / 2) + Random.Shared.NextDouble() * capped / 2), ct).ConfigureAwait(false);
        }
    }

    public static async Task<string> LoginAsync(HttpClient client, Uri baseUri, string phone, string password, CancellationToken ct)
    {
        using var response = await PoliteAsync(() => client.PostAsJsonAsync(new Uri(baseUri, "/api/auth/login"), new { phone, password }, ct), ct).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"login {phone}: {(int)response.StatusCode} {body}");
        }
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("session").GetString()!;
    }

    public static async Task<AuditResult> AuditAsync(HttpClient client, Uri baseUri, string secret, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, "/api/account/admin/audit"));
        request.Headers.Add("X-Admin-Secret", secret);
        using var response = await client.SendAsync(request, ct).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return new AuditResult(false, long.MinValue, $"{(int)response.StatusCode} {body}");
        }
        using var doc = JsonDocument.Parse(body);
        return new AuditResult(doc.RootElement.GetProperty("ok").GetBoolean(), doc.RootElement.GetProperty("ledger_sum").GetInt64(), body);
    }

    public static async Task<List<SeededUser>> ReadUsersAsync(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        var users = await JsonSerializer.DeserializeAsync<List<SeededUser>>(stream, Json, ct).ConfigureAwait(false);
        if (users is null || users.Count < 2)
        {
            throw new ArgumentException($"{path} holds fewer than 2 users: run `tally-load seed` first");
        }
        return users;
    }

    /// <summary>Logs every user in before the run (not measured), <paramref name="workers"/> at a time.</summary>
    public static async Task<string[]> LoginAllAsync(HttpClient client, Uri baseUri, IReadOnlyList<SeededUser> users, int workers, CancellationToken ct)
    {
        var sessions = new string[users.Count];
        await Parallel.ForAsync(0, users.Count, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = ct },
            async (i, token) => sessions[i] = await LoginAsync(client, baseUri, users[i].Phone, users[i].Password, token).ConfigureAwait(false)).ConfigureAwait(false);
        return sessions;
    }
}

/// <summary>
/// ws: holds one WebSocket per seeded user open, and each iteration makes a transfer and
/// measures the time until the receiver's socket delivers its notification.
/// </summary>
public sealed class WsScenario : IScenario, IAsyncDisposable
{
    private readonly Uri _transfer;
    private readonly IReadOnlyList<SeededUser> _users;
    private readonly string[] _sessions;
    private readonly List<ClientWebSocket> _sockets = [];
    // One entry per transfer id, created by whichever side comes first: the socket that delivers
    // the notification or the iteration that made the transfer. (Two maps, "waiting" and "arrived
    // early", lost a notification whenever it came between the two checks.)
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, TaskCompletionSource> _deliveries = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _readers = [];

    public WsScenario(Uri baseUri, IReadOnlyList<SeededUser> users, string[] sessions)
    {
        _users = users;
        _sessions = sessions;
        _transfer = new Uri(baseUri, "/api/transfer/transfer");
    }

    public string Name => "ws";
    public IReadOnlyList<string> Endpoints { get; } = ["WS notification delivery"];
    public int Open => _sockets.Count;

    public async Task ConnectAsync(Uri baseUri, int clients, CancellationToken ct)
    {
        var wsBase = new UriBuilder(baseUri) { Scheme = baseUri.Scheme == "https" ? "wss" : "ws" }.Uri;
        for (var i = 0; i < Math.Min(clients, _users.Count); i++)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri(wsBase, $"/ws?session={Uri.EscapeDataString(_sessions[i])}"), ct).ConfigureAwait(false);
            _sockets.Add(socket);
            _readers.Add(ReadAsync(socket, _stop.Token));
        }
    }

    private async Task ReadAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (socket.State == WebSocketState.Open && !ct.IsCancellationRequested)
            {
                var result = await socket.ReceiveAsync(buffer, ct).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }
                Deliver(message.GetBuffer().AsSpan(0, (int)message.Length));
                message.SetLength(0);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (WebSocketException)
        {
        }
    }

    /// <summary>Completes the waiting transfer for a "You received ..." notification; a frame it can't read is skipped.</summary>
    private void Deliver(ReadOnlySpan<byte> frame)
    {
        long transferId;
        try
        {
            var reader = new Utf8JsonReader(frame);
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("transfer_id", out var id) || !id.TryGetInt64(out transferId)
                || !root.TryGetProperty("message", out var text) || text.ValueKind != JsonValueKind.String
                || text.GetString()?.Contains("received", StringComparison.OrdinalIgnoreCase) != true)
            {
                return;
            }
        }
        catch (JsonException)
        {
            return;
        }
        Delivery(transferId).TrySetResult();
    }

    private TaskCompletionSource Delivery(long transferId) =>
        _deliveries.GetOrAdd(transferId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public async ValueTask<Outcome> ExecuteAsync(VuContext context, CancellationToken cancellationToken)
    {
        var open = _sockets.Count;
        var from = context.Random.Next(_users.Count);
        var to = context.Random.Next(open - 1);
        if (to >= from)
        {
            to++;
        }
        to %= open;
        using var transfer = new HttpRequestMessage(HttpMethod.Post, _transfer)
        {
            Content = JsonContent.Create(new { to_account_number = _users[to].AccountNumber, amount = 1, note = "ws" }),
        };
        transfer.Headers.TryAddWithoutValidation("X-Session", _sessions[from]);
        using var response = await context.Client.SendAsync(transfer, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return Outcome.Failed(0, (int)response.StatusCode, $"{(int)response.StatusCode} {Http.ErrorCode(body)}".TrimEnd()) with { RetryAfter = response.Headers.RetryAfter is not null };
        }
        using var doc = JsonDocument.Parse(body);
        var id = doc.RootElement.GetProperty("transfer_id").GetInt64();
        var delivery = Delivery(id);
        try
        {
            await delivery.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            return Outcome.Success(0, 200);
        }
        catch (TimeoutException)
        {
            return Outcome.Failed(0, 0, "notification not delivered");
        }
        finally
        {
            _deliveries.TryRemove(id, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var s in _sockets)
        {
            s.Abort();
            s.Dispose();
        }
        await Task.WhenAll(_readers).ConfigureAwait(false);
        _stop.Dispose();
    }
}
