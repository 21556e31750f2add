namespace Tally.Postgres.Tests;

/// <summary>
/// At least 5,000 transfer requests from 32 parallel clients over 10 accounts in PostgreSQL mode: opposing pairs,
/// holds with confirms, cancels and confirm/cancel races, and idempotent retries (some concurrent). Afterwards the
/// audit is ok, the ledger sums to 0, nothing is negative, every key applied once, every balance is what the
/// clients observed, and no response was a 5xx.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresConcurrencyTests(PostgresServer server, ITestOutputHelper output)
{
    private const int Accounts = 10;
    private const int Clients = 32;
    private const int MinTransferPosts = 5_000;

    private readonly ConcurrentBag<Create> _creates = [];
    private readonly ConcurrentBag<Hold> _holds = [];
    private readonly ConcurrentDictionary<(string Route, int Status, string? Code), int> _statuses = new();
    private readonly ConcurrentQueue<string> _serverErrors = new();
    private int _posts;
    private int _conflictProbes;
    private int _conflictsRefused;

    [Fact]
    public async Task MixedConcurrentLoad_KeepsTheLedgerExact()
    {
        var app = await server.AppAsync("concurrency");
        var users = new List<TallyUser>();
        for (var i = 0; i < Accounts; i++)
        {
            users.Add(await app.RegisterAndLoginAsync($"load{i}"));
        }
        using var http = app.CreateDefaultClient();
        http.Timeout = TimeSpan.FromSeconds(60);

        // Two accounts are drained first, so that concurrent debits keep pressing them against zero.
        await PostAsync(http, users, New("drain-8", 8, 0, 99_000, instant: true), CancellationToken.None);
        await PostAsync(http, users, New("drain-9", 9, 1, 99_000, instant: true), CancellationToken.None);

        var stopwatch = Stopwatch.StartNew();
        using (var budget = new CancellationTokenSource(TimeSpan.FromSeconds(120)))
        {
            await Task.WhenAll(Enumerable.Range(0, Clients).Select(w => Task.Run(() => RunClientAsync(http, users, w, budget.Token))));
        }
        var elapsed = stopwatch.Elapsed;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_posts} transfer posts, {_statuses.Values.Sum()} requests in {elapsed.TotalSeconds:F1} s; {_holds.Count} holds"));
        foreach (var ((route, status, code), count) in _statuses.OrderBy(s => s.Key.Route).ThenBy(s => s.Key.Status))
        {
            output.WriteLine($"  {route} {status} {code}: {count}");
        }

        Assert.True(_serverErrors.IsEmpty, "5xx answers: " + string.Join("\n", _serverErrors.Take(5)));
        Assert.True(_posts >= MinTransferPosts, $"only {_posts} transfer posts");
        Assert.True(_holds.Count >= 300, $"only {_holds.Count} holds");
        Assert.True(_statuses.Any(s => s.Key.Code == "INSUFFICIENT_FUNDS"), "no transfer met an empty account");

        // Every key applied exactly once: one transfer id per key, exactly one non-replayed answer.
        var keyed = _creates.Where(c => c.Key is not null).ToList();
        Assert.True(keyed.Count(c => c.Concurrent) >= 100, "too few concurrent retries");
        foreach (var create in keyed)
        {
            var ok = create.Attempts.Where(a => a.Status == 200).ToList();
            Assert.All(create.Attempts, a => Assert.True(a.Status == 200 || a.Code == "INSUFFICIENT_FUNDS", $"key {create.Key}: {a.Status} {a.Code}"));
            if (ok.Count > 0)
            {
                Assert.Single(ok.Select(a => a.TransferId).Distinct());
                Assert.Equal(1, ok.Count(a => !a.Replayed));
            }
        }
        Assert.True(_conflictProbes > 0);
        Assert.Equal(_conflictProbes, _conflictsRefused);

        // Each hold resolved at most once; a confirm/cancel race has exactly one winner.
        foreach (var hold in _holds.Where(h => h.Race))
        {
            Assert.Equal(1, hold.Resolves.Count(r => r == 200));
        }

        // Every balance is what the clients observed: instant transfers and confirmed holds moved money, pending holds are held.
        var succeeded = _creates.SelectMany(c => c.Attempts.Where(a => a.Status == 200 && !a.Replayed).Select(a => (c, a))).ToList();
        Assert.Equal(succeeded.Count, succeeded.Select(s => s.a.TransferId).Distinct().Count());
        var expected = Enumerable.Repeat(100_000L, Accounts).ToArray();
        var held = new long[Accounts];
        var admin = app.CreateAdminClient();
        foreach (var (create, attempt) in succeeded)
        {
            var status = attempt.TransferStatus;
            if (status == "PENDING")
            {
                using var client = app.CreateClient(users[create.Sender]);
                status = (await (await client.GetAsync($"/api/transfer/{attempt.TransferId}")).AssertJsonAsync()).GetProperty("status").GetString();
            }
            if (status == "SUCCESS")
            {
                expected[create.Sender] -= create.Amount;
                expected[create.Receiver] += create.Amount;
            }
            else if (status == "PENDING")
            {
                held[create.Sender] += create.Amount;
            }
        }
        for (var i = 0; i < Accounts; i++)
        {
            var (balance, available) = await app.GetBalanceAsync(users[i]);
            Assert.True(balance == expected[i], $"user {i}: balance {balance}, observed {expected[i]}");
            Assert.Equal(expected[i] - held[i], available);
            Assert.True(available >= 0);
        }
        var audit = await app.AssertAuditOkAsync();
        Assert.Equal(held.Sum(), audit.GetProperty("pending_holds").GetInt64());
        admin.Dispose();
    }

    private async Task RunClientAsync(HttpClient http, List<TallyUser> users, int worker, CancellationToken cancellationToken)
    {
        // Clients 2k and 2k+1 share a pair of accounts in opposite directions.
        var pair = worker / 2;
        var a = pair % Accounts;
        var b = (a + 1 + (pair / Accounts)) % Accounts;
        var (from, to) = worker % 2 == 0 ? (a, b) : (b, a);
        var random = new Random(31 * (worker + 1));
        var sequence = 0;
        while (Volatile.Read(ref _posts) < MinTransferPosts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (sender, receiver) = (from, to);
            if (random.Next(10) == 0)
            {
                sender = random.Next(Accounts);
                receiver = (sender + 1 + random.Next(Accounts - 1)) % Accounts;
            }
            var key = string.Create(CultureInfo.InvariantCulture, $"w{worker}-{sequence++}");
            var amount = random.Next(1, 2_000);
            var roll = random.Next(100);
            if (roll < 45)
            {
                await PostAsync(http, users, New(random.Next(4) == 0 ? null : key, sender, receiver, amount, instant: true), cancellationToken);
            }
            else if (roll < 70)
            {
                var create = New(key, sender, receiver, amount, instant: random.Next(4) != 0);
                var times = random.Next(2, 4);
                if (random.Next(2) == 0)
                {
                    create.Concurrent = true;
                    await Task.WhenAll(Enumerable.Range(0, times).Select(_ => PostAsync(http, users, create, cancellationToken)));
                }
                else
                {
                    for (var i = 0; i < times; i++)
                    {
                        await PostAsync(http, users, create, cancellationToken);
                    }
                }
                if (random.Next(4) == 0 && create.Attempts.Any(x => x.Status == 200))
                {
                    Interlocked.Increment(ref _conflictProbes);
                    var probe = new Create(create.Key, create.Sender, create.Receiver, create.Amount + 1, create.Instant);
                    var (status, code, _) = await SendAsync(http, HttpMethod.Post, "/api/transfer/transfer", users[probe.Sender], probe.Body(users), cancellationToken);
                    Interlocked.Increment(ref _posts);
                    if (status == 409 && code == "DUPLICATE_CLIENT_REF")
                    {
                        Interlocked.Increment(ref _conflictsRefused);
                    }
                }
                if (!create.Instant)
                {
                    await ResolveAsync(http, users, create, random, cancellationToken);
                }
            }
            else
            {
                var create = New(key, sender, receiver, amount, instant: false);
                await PostAsync(http, users, create, cancellationToken);
                await ResolveAsync(http, users, create, random, cancellationToken);
            }
        }
    }

    private Create New(string? key, int sender, int receiver, long amount, bool instant)
    {
        var create = new Create(key, sender, receiver, amount, instant);
        _creates.Add(create);
        return create;
    }

    private async Task PostAsync(HttpClient http, List<TallyUser> users, Create create, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _posts);
        var (status, code, json) = await SendAsync(http, HttpMethod.Post, "/api/transfer/transfer", users[create.Sender], create.Body(users), cancellationToken);
        if (status == 200)
        {
            var body = json!.Value.Body;
            create.Attempts.Enqueue(new Attempt(200, null, body.GetProperty("transfer_id").GetInt64(), body.GetProperty("status").GetString(), json.Value.Replayed));
        }
        else
        {
            create.Attempts.Enqueue(new Attempt(status, code, null, null, false));
        }
    }

    private async Task ResolveAsync(HttpClient http, List<TallyUser> users, Create create, Random random, CancellationToken cancellationToken)
    {
        var placed = create.Attempts.FirstOrDefault(a => a.Status == 200);
        if (placed?.TransferId is not { } transferId)
        {
            return;
        }
        var hold = new Hold(transferId);
        _holds.Add(hold);
        object Target() => create.Key is not null && random.Next(2) == 0 ? new { client_ref = create.Key } : new { transfer_id = transferId };
        var roll = random.Next(100);
        if (roll < 10)
        {
            return;
        }
        if (roll < 35)
        {
            hold.Race = true;
            var results = await Task.WhenAll(
                SendAsync(http, HttpMethod.Post, "/api/transfer/confirm", users[create.Sender], Target(), cancellationToken),
                SendAsync(http, HttpMethod.Post, "/api/transfer/cancel", users[create.Sender], Target(), cancellationToken));
            foreach (var result in results)
            {
                hold.Resolves.Enqueue(result.Status);
                Assert.True(result.Status is 200 or 409, $"a racing resolve got {result.Status} {result.Code}");
            }
            return;
        }
        var single = await SendAsync(http, HttpMethod.Post, roll < 70 ? "/api/transfer/confirm" : "/api/transfer/cancel", users[create.Sender], Target(), cancellationToken);
        hold.Resolves.Enqueue(single.Status);
        Assert.True(single.Status == 200, $"resolve of hold {transferId} got {single.Status} {single.Code}");
    }

    private async Task<(int Status, string? Code, (JsonElement Body, bool Replayed)? Json)> SendAsync(
        HttpClient http, HttpMethod method, string path, TallyUser user, object body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Session);
        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var status = (int)response.StatusCode;
        string? code = null;
        JsonElement json = default;
        if (text.Length > 0)
        {
            using var document = JsonDocument.Parse(text);
            json = document.RootElement.Clone();
            if (status != 200 && json.ValueKind == JsonValueKind.Object && json.TryGetProperty("error_code", out var c))
            {
                code = c.GetString();
            }
        }
        _statuses.AddOrUpdate((path.StartsWith("/api/transfer/transfer", StringComparison.Ordinal) ? "transfer" : path, status, code), 1, (_, n) => n + 1);
        if (status >= 500)
        {
            _serverErrors.Enqueue($"{path} {status}: {text}");
        }
        return (status, code, status == 200 ? (json, response.Headers.Contains("Idempotent-Replayed")) : null);
    }

    private sealed record Attempt(int Status, string? Code, long? TransferId, string? TransferStatus, bool Replayed);

    private sealed class Create(string? key, int sender, int receiver, long amount, bool instant)
    {
        public string? Key { get; } = key;
        public int Sender { get; } = sender;
        public int Receiver { get; } = receiver;
        public long Amount { get; } = amount;
        public bool Instant { get; } = instant;
        public bool Concurrent { get; set; }
        public ConcurrentQueue<Attempt> Attempts { get; } = new();

        public object Body(List<TallyUser> users) => Key is null
            ? new { to_account_number = users[Receiver].AccountNumber, amount = Amount, instant = Instant }
            : new { to_account_number = users[Receiver].AccountNumber, amount = Amount, instant = Instant, client_ref = Key };
    }

    private sealed class Hold(long transferId)
    {
        public long TransferId { get; } = transferId;
        public bool Race { get; set; }
        public ConcurrentQueue<int> Resolves { get; } = new();
    }
}
