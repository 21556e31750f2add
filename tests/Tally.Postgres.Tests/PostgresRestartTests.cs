namespace Tally.Postgres.Tests;

/// <summary>A PostgreSQL outage: its own private server, so the shared one of the other tests is never touched.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PostgresRestartCollection
{
    public const string Name = "PostgresRestart";
}

[Collection(PostgresRestartCollection.Name)]
public sealed class PostgresRestartTests
{
    private static async Task<HttpStatusCode> WaitForReadyAsync(HttpClient client, HttpStatusCode wanted, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        HttpStatusCode last;
        do
        {
            last = (await client.GetAsync("/ready")).StatusCode;
            if (last == wanted)
            {
                return last;
            }
            await Task.Delay(200);
        }
        while (DateTime.UtcNow < until);
        return last;
    }

    [Fact]
    public async Task PostgresRestart_ReadinessGoes503Then200_AndNothingCommittedIsLost()
    {
        var server = new PostgresServer();
        await server.InitializeAsync();
        try
        {
            var app = server.Own(new PgTallyFactory(await server.CreateDatabaseAsync("restart")));
            var alice = await app.RegisterAndLoginAsync("Alice");
            var bob = await app.RegisterAndLoginAsync("Bob");
            using var client = app.CreateClient(alice);
            for (var i = 0; i < 10; i++)
            {
                var sent = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 100 + i });
                Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
            }
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/ready")).StatusCode);

            await server.HaltAsync();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await WaitForReadyAsync(client, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(15)));
            var during = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 7 });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, during.StatusCode);

            await server.ResumeAsync();
            Assert.Equal(HttpStatusCode.OK, await WaitForReadyAsync(client, HttpStatusCode.OK, TimeSpan.FromSeconds(30)));

            // Every committed transfer is still there; the one refused during the outage moved nothing.
            var sentTotal = Enumerable.Range(0, 10).Sum(i => 100 + i);
            var (aliceBalance, _) = await app.GetBalanceAsync(alice);
            var (bobBalance, _) = await app.GetBalanceAsync(bob);
            Assert.Equal(100_000 - sentTotal, aliceBalance);
            Assert.Equal(100_000 + sentTotal, bobBalance);

            // Service resumes without a restart of Tally: the writer reconnects.
            var resumedUntil = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            HttpResponseMessage after;
            do
            {
                after = await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 1 });
                if (after.StatusCode != HttpStatusCode.OK)
                {
                    await Task.Delay(250);
                }
            }
            while (after.StatusCode != HttpStatusCode.OK && DateTime.UtcNow < resumedUntil);
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
            await app.AssertAuditOkAsync();
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
