using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Tally.Ha.Tests.Infrastructure;

/// <summary>
/// A steady, bounded transfer load: a few clients, each sending one transfer after another, every transfer with its
/// own Idempotency-Key (also its note) and retried with the same key after a 503, a 504 or a lost connection until
/// it is answered 200. Records every transfer answered 200, when, and every status seen.
/// </summary>
public sealed class TransferLoad : IAsyncDisposable
{
    private static readonly TimeSpan s_retryBudget = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http;
    private readonly List<(string Session, string Account)> _users;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _clients = [];
    private readonly int _maxTransfers;
    private int _next;

    public TransferLoad(Uri api, List<(string Session, string Account)> users, string prefix, int clients = 6, int maxTransfers = 20_000)
    {
        _http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(30) };
        _users = users;
        Prefix = prefix;
        _maxTransfers = maxTransfers;
        for (var c = 0; c < clients; c++)
        {
            _clients.Add(Task.Run(RunClientAsync));
        }
    }

    public string Prefix { get; }

    /// <summary>Each transfer answered 200: when its successful attempt was sent and when the answer came.</summary>
    public ConcurrentDictionary<string, (DateTime Sent, DateTime Answered)> Acknowledged { get; } = new(StringComparer.Ordinal);

    /// <summary>Every answer by status (0 for a request that got no answer).</summary>
    public ConcurrentDictionary<int, int> Statuses { get; } = new();

    /// <summary>Transfers that got an answer that is neither 200 nor a retryable 503/504: with their status and body.</summary>
    public ConcurrentQueue<string> Failures { get; } = new();

    /// <summary>Transfers still unresolved when the load stopped (their retry budget ran out).</summary>
    public ConcurrentQueue<string> Unresolved { get; } = new();

    /// <summary>Waits until <paramref name="count"/> transfers are acknowledged (at most 60 s).</summary>
    public async Task WaitForAcknowledgedAsync(int count)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (Acknowledged.Count < count)
        {
            Assert.True(DateTime.UtcNow < until, $"only {Acknowledged.Count} of {count} transfers acknowledged in 60 s; statuses {Describe()}");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Waits until a transfer whose successful attempt was sent at or after <paramref name="since"/> is answered 200;
    /// returns how long after <paramref name="since"/> that answer came, or null if none came within the limit.
    /// </summary>
    public async Task<TimeSpan?> FirstAcknowledgedSentAfterAsync(DateTime since, TimeSpan limit)
    {
        var until = since + limit + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < until)
        {
            var first = Acknowledged.Values.Where(a => a.Sent >= since).Select(a => (DateTime?)a.Answered).Min();
            if (first is { } answered)
            {
                return answered - since;
            }
            await Task.Delay(50);
        }
        return null;
    }

    /// <summary>Stops starting transfers, and waits for the ones under way to be resolved (each within its retry budget).</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
    }

    /// <summary>Waits until <paramref name="more"/> more transfers are acknowledged, then stops.</summary>
    public async Task StopAfterAsync(int more)
    {
        await WaitForAcknowledgedAsync(Acknowledged.Count + more);
        await StopAsync();
    }

    public string Describe() =>
        string.Join(", ", Statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}")) + $"; acknowledged {Acknowledged.Count}";

    private async Task RunClientAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var i = Interlocked.Increment(ref _next);
            if (i > _maxTransfers)
            {
                return;
            }
            await TransferAsync(i);
            await Task.Delay(15);
        }
    }

    private async Task TransferAsync(int i)
    {
        var from = _users[i % _users.Count];
        var to = _users[(i + 1) % _users.Count];
        var key = $"{Prefix}-{i}";
        var giveUp = DateTime.UtcNow + s_retryBudget;
        while (DateTime.UtcNow < giveUp)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
            {
                Content = JsonContent.Create(new { to_account_number = to.Account, amount = 1, note = key }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", from.Session);
            request.Headers.Add("Idempotency-Key", key);
            var sent = DateTime.UtcNow;
            int status;
            string body = "";
            try
            {
                using var response = await _http.SendAsync(request);
                status = (int)response.StatusCode;
                if (status is not (200 or 503 or 504))
                {
                    body = await response.Content.ReadAsStringAsync();
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                status = 0;
            }
            Statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            if (status == (int)HttpStatusCode.OK)
            {
                Acknowledged[key] = (sent, DateTime.UtcNow);
                return;
            }
            if (status is not (0 or 503 or 504))
            {
                Failures.Enqueue($"{key}: {status} {body}");
                return;
            }
            await Task.Delay(200);
        }
        Unresolved.Enqueue(key);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _http.Dispose();
        _stop.Dispose();
    }
}
