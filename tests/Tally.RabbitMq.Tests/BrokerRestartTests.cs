using Microsoft.Data.Sqlite;

namespace Tally.RabbitMq.Tests;

/// <summary>A RabbitMQ restart under load: 503 or 504 during the outage, never a false 200, and service resumes on its own.</summary>
[Collection(ServicesCollection.Name)]
public sealed class BrokerRestartTests(PrivateServices services, ITestOutputHelper output)
{
    [Fact]
    public async Task A_broker_restart_gives_503_or_504_never_a_false_200_and_service_resumes_on_its_own()
    {
        var app = services.Own(new RabbitTallyFactory(services, overrides: new Dictionary<string, string?> { ["Bus:Deadline"] = "00:00:03" }));
        await app.WaitReadyAsync();
        var users = new List<TallyUser>();
        for (var i = 0; i < 4; i++)
        {
            users.Add(await app.RegisterAndLoginAsync());
        }
        var prefix = "r" + Guid.NewGuid().ToString("N")[..8];
        var statuses = new ConcurrentDictionary<string, (HttpStatusCode Status, TimeSpan At)>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var restarted = TimeSpan.FromDays(1);
        var next = -1;

        // 8 clients, each sending one transfer after another, with a unique note, for a bounded time and count.
        async Task ClientAsync(int c)
        {
            using var client = app.CreateClient(users[c % users.Count]);
            var to = users[(c + 1) % users.Count];
            while (!stop.IsCancellationRequested)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= 20_000 || clock.Elapsed > restarted + TimeSpan.FromSeconds(12))
                {
                    return;
                }
                var note = $"{prefix}-{i}";
                var response = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = to.AccountNumber, amount = 1, note });
                statuses[note] = (response.StatusCode, clock.Elapsed);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    await Task.Delay(20);
                }
            }
        }

        var load = Task.WhenAll(Enumerable.Range(0, 8).Select(c => Task.Run(() => ClientAsync(c))));
        await Task.Delay(1000);
        var down = clock.Elapsed;
        var (code, _, errors) = await services.RunAsync("restart-rabbitmq", "1");
        Assert.True(code == 0, errors);
        restarted = clock.Elapsed;
        await load;

        var byStatus = statuses.Values.GroupBy(s => s.Status).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"outage {down.TotalSeconds:F1}s..{restarted.TotalSeconds:F1}s; " + string.Join(", ", byStatus.Select(kv => $"{(int)kv.Key}: {kv.Value}")));
        Assert.All(statuses.Values, s => Assert.True(s.Status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout, $"status {(int)s.Status}"));
        Assert.Contains(statuses.Values, s => s.Status != HttpStatusCode.OK);

        // Service resumed on its own within 10 s of the broker being back.
        var firstOkAfter = statuses.Values.Where(s => s.Status == HttpStatusCode.OK && s.At > restarted).Select(s => s.At).DefaultIfEmpty(TimeSpan.MaxValue).Min();
        Assert.True(firstOkAfter - restarted < TimeSpan.FromSeconds(10), $"no 200 within 10 s after the restart (first at {firstOkAfter})");

        // Never a false 200: every acknowledged transfer is in the ledger, once; and the ledger audits ok.
        var applied = new Dictionary<string, long>();
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(app.DataDirectory, "tally.db")};Mode=ReadOnly"))
        {
            await db.OpenAsync();
            await using var command = db.CreateCommand();
            command.CommandText = "SELECT note, count(*) FROM transfers WHERE note LIKE $p GROUP BY note";
            command.Parameters.AddWithValue("$p", prefix + "-%");
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                applied[reader.GetString(0)] = reader.GetInt64(1);
            }
        }
        Assert.All(applied, a => Assert.Equal(1, a.Value));
        Assert.All(statuses.Where(s => s.Value.Status == HttpStatusCode.OK), s => Assert.True(applied.ContainsKey(s.Key), $"{s.Key} got 200 but is not in the ledger"));
        await app.AssertAuditOkAsync();
    }
}
