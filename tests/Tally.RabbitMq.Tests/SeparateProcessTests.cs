namespace Tally.RabbitMq.Tests;

/// <summary>api and worker as separate processes on PostgreSQL and RabbitMQ, and a worker killed under load.</summary>
[Collection(ServicesCollection.Name)]
public sealed class SeparateProcessTests(PrivateServices services, ITestOutputHelper output)
{
    private const string AdminSecret = "proc-admin-secret";

    private (Dictionary<string, string> Environment, string Logs) Environment(string prefix, IDictionary<string, string>? extra = null)
    {
        var logs = Path.Combine(Path.GetTempPath(), "tally-rmq-tests", "proc-" + prefix);
        var environment = TallyEnvironment.OnPostgresAndRabbitMq(services.Postgres, services.RabbitMq, Path.Combine(logs, "data"), AdminSecret);
        environment["Bus__RabbitMq__QueuePrefix"] = prefix;
        // These tests kill, pause and replace workers mid-stream: the messages a worker held must outlive the
        // gap until another takes them (as with the bus's 10 s), or they expire unprocessed, which is right
        // for a client that gave up but proves nothing about redelivery.
        environment["Admission__RequestBudget"] = "00:00:10";
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }
        return (environment, logs);
    }

    private static async Task<List<(string Session, string Account)>> RegisterAsync(HttpClient http, int count)
    {
        var users = new List<(string Session, string Account)>();
        for (var i = 0; i < count; i++)
        {
            var phone = TallyTestKit.NewPhone();
            const string password = "correct horse battery";
            var registered = await (await http.PostAsJsonAsync("/api/auth/register", new { phone, username = "k" + i, password })).AssertJsonAsync();
            var login = await (await http.PostAsJsonAsync("/api/auth/login", new { phone, password })).AssertJsonAsync();
            users.Add((login.GetProperty("session").GetString()!, registered.GetProperty("account_number").GetString()!));
        }
        return users;
    }

    private static double ResidentMegabytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }

    private static async Task AssertAuditOkAsync(ServerProcess api)
    {
        using var admin = new HttpClient { BaseAddress = api.BaseAddress };
        admin.DefaultRequestHeaders.Add("X-Admin-Secret", AdminSecret);
        var audit = await (await admin.GetAsync("/api/account/admin/audit")).AssertJsonAsync();
        Assert.True(audit.GetProperty("ok").GetBoolean(), audit.ToString());
    }

    [Fact]
    public async Task A_paused_worker_fills_the_bounded_queue_the_excess_gets_503_at_once_and_every_accepted_request_completes_or_times_out()
    {
        var prefix = "o" + Guid.NewGuid().ToString("N")[..10];
        var (environment, logs) = Environment(prefix, new Dictionary<string, string>
        {
            ["Bus__Capacity"] = "50",
            ["Bus__Deadline"] = "00:00:15",
            // The accepted writes must outlive the whole test (their messages keep the queue full), so their
            // request budget is as long as the bus deadline.
            ["Admission__RequestBudget"] = "00:00:15",
            ["Bus__RabbitMq__Prefetch"] = "16",
        });
        using var api = ServerProcess.LaunchTally(new Dictionary<string, string>(environment) { ["Role"] = "api" }, logs, "api");
        using var worker = ServerProcess.LaunchTally(new Dictionary<string, string>(environment) { ["Role"] = "worker" }, logs, "worker");
        await Task.WhenAll(api.WaitReadyAsync(TimeSpan.FromSeconds(60)), worker.WaitReadyAsync(TimeSpan.FromSeconds(60)));
        using var http = new HttpClient { BaseAddress = api.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var users = await RegisterAsync(http, 4);

        // Open the client's 300 connections first, so that the burst measures the server, not TCP handshakes.
        await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => http.GetAsync("/health")));
        worker.Signal("STOP");
        var results = new ConcurrentBag<(string Note, HttpStatusCode Status, TimeSpan Took)>();
        async Task SendAsync(int i)
        {
            var from = users[i % users.Count];
            var to = users[(i + 1) % users.Count];
            var note = $"{prefix}-{i}";
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
            {
                Content = JsonContent.Create(new { to_account_number = to.Account, amount = 1, note }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", from.Session);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            using var response = await http.SendAsync(request);
            results.Add((note, response.StatusCode, watch.Elapsed));
        }

        // A burst of 300 writes at once against a queue of 50 (plus the 16 the paused worker prefetched).
        Task burst;
        var probes = new List<double>();
        try
        {
            burst = Task.WhenAll(Enumerable.Range(0, 300).Select(i => Task.Run(() => SendAsync(i))));
            await Task.WhenAny(burst, Task.Delay(TimeSpan.FromSeconds(1)));
            // With the queue full, each further write is refused at once (the burst's own figures include its
            // 300 requests queueing for 2 shared cores).
            for (var i = 300; i < 320; i++)
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                await SendAsync(i);
                probes.Add(watch.Elapsed.TotalMilliseconds);
            }

            // Memory stays bounded: the broker holds at most the queue's length, and 2,000 more writes against
            // the full queue (each refused) leave the api's resident memory about where it was.
            await using (var broker = await RawBroker.ConnectAsync(services.RabbitMq))
            {
                var depth = await broker.MessageCountAsync(prefix + ".commands.transfer");
                output.WriteLine($"transfer queue depth with the worker paused: {depth}");
                Assert.True(depth <= 50, $"the bounded queue holds {depth} messages, more than its 50");
            }
            var rssBefore = ResidentMegabytes(api.Id);
            for (var wave = 0; wave < 10; wave++)
            {
                await Task.WhenAll(Enumerable.Range(0, 200).Select(j => SendAsync(1_000 + (wave * 200) + j)));
            }
            var rssAfter = ResidentMegabytes(api.Id);
            output.WriteLine($"api resident memory: {rssBefore:F0} MB before 2,000 refused writes, {rssAfter:F0} MB after");
            Assert.True(rssAfter - rssBefore < 100, $"the api grew from {rssBefore:F0} MB to {rssAfter:F0} MB while refusing writes");
        }
        finally
        {
            worker.Signal("CONT");
        }
        await burst.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2_320, results.Count);

        var refused = results.Where(r => r.Status == HttpStatusCode.ServiceUnavailable).Select(r => r.Took.TotalMilliseconds).Order().ToList();
        var ok = results.Where(r => r.Status == HttpStatusCode.OK).ToList();
        output.WriteLine($"{ok.Count} x 200, {results.Count(r => r.Status == HttpStatusCode.GatewayTimeout)} x 504, {refused.Count} x 503 (p50 {refused.ElementAtOrDefault(refused.Count / 2):F1} ms, p99 {refused.ElementAtOrDefault(refused.Count * 99 / 100):F1} ms)");
        Assert.All(results, r => Assert.True(r.Status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout, $"status {(int)r.Status}"));
        Assert.True(refused.Count >= 100, $"only {refused.Count} refusals");
        probes.Sort();
        output.WriteLine($"writes to the full queue: p50 {probes[probes.Count / 2]:F1} ms, max {probes[^1]:F1} ms");
        Assert.All(results.Where(r => int.Parse(r.Note[(prefix.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture) >= 300), r => Assert.Equal(HttpStatusCode.ServiceUnavailable, r.Status));
        Assert.True(probes[probes.Count / 2] < 100, $"the median refusal of a full queue took {probes[probes.Count / 2]} ms");

        var applied = await PostgresLedger.AppliedAsync(services.Postgres, prefix);
        Assert.All(applied, a => Assert.Equal(1, a.Value));
        Assert.All(ok, r => Assert.True(applied.ContainsKey(r.Note), $"{r.Note} got 200 but is not in the ledger"));
        Assert.All(results.Where(r => r.Status == HttpStatusCode.ServiceUnavailable), r => Assert.False(applied.ContainsKey(r.Note), $"{r.Note} got 503 but was applied"));
        await AssertAuditOkAsync(api);
        api.Dispose();
        worker.Dispose();
        Directory.Delete(logs, recursive: true);
    }

    [Fact]
    public async Task A_worker_killed_mid_stream_has_its_unacked_messages_redelivered_and_applied_once()
    {
        var prefix = "p" + Guid.NewGuid().ToString("N")[..10];
        var (environment, logs) = Environment(prefix);
        using var api = ServerProcess.LaunchTally(new Dictionary<string, string>(environment) { ["Role"] = "api" }, logs, "api");
        var worker = ServerProcess.LaunchTally(new Dictionary<string, string>(environment) { ["Role"] = "worker" }, logs, "worker");
        ServerProcess? second = null;
        try
        {
            await Task.WhenAll(api.WaitReadyAsync(TimeSpan.FromSeconds(60)), worker.WaitReadyAsync(TimeSpan.FromSeconds(60)));
            using var http = new HttpClient { BaseAddress = api.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

            var users = new List<(string Session, string Account)>();
            for (var i = 0; i < 8; i++)
            {
                var phone = TallyTestKit.NewPhone();
                const string password = "correct horse battery";
                var registered = await (await http.PostAsJsonAsync("/api/auth/register", new { phone, username = "k" + i, password })).AssertJsonAsync();
                var login = await (await http.PostAsJsonAsync("/api/auth/login", new { phone, password })).AssertJsonAsync();
                users.Add((login.GetProperty("session").GetString()!, registered.GetProperty("account_number").GetString()!));
            }

            // Bounded load: 1,600 transfers from 16 clients, each with a unique note and no client_ref, so that
            // only the inbox keeps a redelivered message from applying twice.
            const int total = 1600;
            var statuses = new ConcurrentDictionary<string, HttpStatusCode>();
            var started = 0;
            var load = Parallel.ForAsync(0, total, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
            {
                Interlocked.Increment(ref started);
                var from = users[i % users.Count];
                var to = users[(i + 1 + i / users.Count % (users.Count - 1)) % users.Count];
                if (to.Account == from.Account)
                {
                    to = users[(i + 1) % users.Count];
                }
                var note = $"{prefix}-{i}";
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
                {
                    Content = JsonContent.Create(new { to_account_number = to.Account, amount = 1 + (i % 20), note }),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", from.Session);
                try
                {
                    using var response = await http.SendAsync(request);
                    statuses[note] = response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    statuses[note] = 0;
                }
            });

            // Once the stream is well under way, freeze the worker (SIGSTOP) until the broker has handed it
            // messages it has not acked, then kill it hard, and start another a moment later. A worker this fast
            // may otherwise be caught between deliveries, holding nothing to redeliver.
            while (Volatile.Read(ref started) < 400 && !load.IsCompleted)
            {
                await Task.Delay(10);
            }
            Assert.False(load.IsCompleted, "the load ended before the worker could be killed mid-stream");
            worker.Signal("STOP");
            var held = 0L;
            await TallyTestKit.WithinAsync(TimeSpan.FromSeconds(20), async () =>
            {
                var (code, listed, _) = await services.RunAsync("rabbitmqctl", "list_queues", "-p", "tally", "name", "messages_unacknowledged");
                held = code != 0 ? 0 : listed.Split('\n')
                    .Select(line => line.Split('\t', StringSplitOptions.TrimEntries))
                    .Where(cells => cells.Length == 2 && cells[0].StartsWith(prefix, StringComparison.Ordinal) && long.TryParse(cells[1], out _))
                    .Sum(cells => long.Parse(cells[1], System.Globalization.CultureInfo.InvariantCulture));
                return held > 0;
            }, intervalMs: 100);
            Assert.True(held > 0, "the broker never handed the stopped worker a message");
            worker.KillHard();
            await Task.Delay(500);
            second = ServerProcess.LaunchTally(new Dictionary<string, string>(environment) { ["Role"] = "worker" }, logs, "worker2");
            await second.WaitReadyAsync(TimeSpan.FromSeconds(60));
            await load;

            Assert.Equal(total, statuses.Count);
            var ok = statuses.Where(s => s.Value == HttpStatusCode.OK).Select(s => s.Key).ToHashSet();
            Assert.All(statuses.Values, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout, $"status {(int)s}"));
            Assert.True(ok.Count >= total / 2, $"only {ok.Count} of {total} succeeded");

            var applied = await PostgresLedger.AppliedAsync(services.Postgres, prefix);
            // Never twice; every acknowledged one exactly once.
            Assert.All(applied, a => Assert.Equal(1, a.Value));
            Assert.All(ok, note => Assert.True(applied.ContainsKey(note), $"{note} was acknowledged but is not in the ledger"));

            second.Dispose();
            var redelivered = second.Output.Split('\n').Count(line => line.Contains("redelivered", StringComparison.Ordinal));
            output.WriteLine($"killed holding {held} unacked; {ok.Count} ok, {statuses.Values.Count(s => s == HttpStatusCode.GatewayTimeout)} x 504, {statuses.Values.Count(s => s == HttpStatusCode.ServiceUnavailable)} x 503; {applied.Count} applied; {redelivered} redelivered to the second worker");
            Assert.True(redelivered >= held, $"The killed worker held {held} unacked messages, but only {redelivered} were redelivered");

            await AssertAuditOkAsync(api);
            api.Dispose();
            Directory.Delete(logs, recursive: true);
        }
        finally
        {
            worker.Dispose();
            second?.Dispose();
        }
    }
}
