using System.Threading.RateLimiting;
using Tally.Domain;
using Tally.Server.Admission;
using Tally.Server.Bus;
using Tally.Server.Storage;

namespace Tally.Server.Tests.Admission;

/// <summary>
/// Admission control through HTTP: a bulkhead at its limit refuses at once with 503 OVERLOADED and Retry-After,
/// the other bulkheads and the operations endpoints keep answering, accepted requests complete, and a write whose
/// deadline passes before it starts is answered 504 and never applied. Slots are held either by taking leases from
/// the limiter directly or by a gate in front of the real transfer handler, so nothing races a timer.
/// </summary>
public sealed class AdmissionApiTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>Takes every free slot of a bulkhead; disposing gives them back.</summary>
    private static List<RateLimitLease> Exhaust(EmbeddedTallyApp app, Bulkhead bulkhead)
    {
        var limiter = app.Services.GetRequiredService<AdmissionControl>()[bulkhead];
        var leases = new List<RateLimitLease>();
        while (true)
        {
            var lease = limiter.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                return leases;
            }
            leases.Add(lease);
        }
    }

    private static async Task AssertOverloadedAsync(HttpResponseMessage response)
    {
        await response.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ErrorCodes.Overloaded);
        Assert.NotNull(response.Headers.RetryAfter?.Delta);
        Assert.True(response.Headers.RetryAfter!.Delta > TimeSpan.Zero);
    }

    [Fact]
    public async Task Reads_BeyondTheReadLimit_AreRefusedOverloaded_WhileWritesAndOperationsEndpointsStillAnswer()
    {
        using var app = EmbeddedTallyApp.WithSettings(("Admission:Read:QueueLimit", "0"));
        using var pair = await app.RegisterPairAsync();
        var (_, bob, client) = pair;
        using var anonymous = app.CreateClient();

        var held = Exhaust(app, Bulkhead.Read);
        try
        {
            Assert.NotEmpty(held);
            await AssertOverloadedAsync(await client.GetAsync("/api/account/balance"));
            await AssertOverloadedAsync(await client.GetAsync("/api/account/me"));
            foreach (var path in new[] { "/health", "/ready", "/metrics" })
            {
                Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(path)).StatusCode);
            }
            await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 250 });
            // Every test host in this process has a "Tally" meter, and each exporter may show another host's series
            // under the same name: the counts are read from this host's limiter, the series from its /metrics.
            var read = app.Services.GetRequiredService<AdmissionControl>()[Bulkhead.Read];
            Assert.True(read.GetStatistics()!.TotalFailedLeases >= 2, "the two refused reads were not counted");
            Assert.Equal(held.Count, read.InFlight);
            var metrics = await (await anonymous.GetAsync("/metrics")).Content.ReadAsStringAsync();
            Assert.Matches("tally_admission_refused_total\\{[^}]*bulkhead=\"read\"[^}]*reason=\"limit\"[^}]*\\} [0-9]", metrics);
            Assert.Matches("tally_admission_limit\\{[^}]*bulkhead=\"read\"[^}]*\\} [1-9]", metrics);
            Assert.Matches("tally_admission_inflight\\{[^}]*bulkhead=\"read\"[^}]*\\} [0-9]", metrics);
        }
        finally
        {
            held.ForEach(l => l.Dispose());
        }
        Assert.Equal((99750L, 99750L), await client.GetBalanceAsync());
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task ALoginStorm_FillsOnlyTheLoginBulkhead_TransfersAndReadsGoOn()
    {
        using var app = EmbeddedTallyApp.WithSettings(("Admission:Login:QueueLimit", "0"));
        using var pair = await app.RegisterPairAsync();
        var (alice, bob, client) = pair;
        using var anonymous = app.CreateClient();

        var held = Exhaust(app, Bulkhead.Login);
        try
        {
            var login = await anonymous.PostAsJsonAsync("/api/auth/login", new { phone = alice.Phone, password = alice.Password });
            await AssertOverloadedAsync(login);
            await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 100 });
            Assert.Equal((99900L, 99900L), await client.GetBalanceAsync());
        }
        finally
        {
            held.ForEach(l => l.Dispose());
        }
        var again = await anonymous.PostAsJsonAsync("/api/auth/login", new { phone = alice.Phone, password = alice.Password });
        await again.AssertJsonAsync();
    }

    [Fact]
    public async Task AFloodOfTransfers_BeyondTheWriteLimit_IsRefused_AndEveryAcceptedOneCompletesAndIsAppliedOnce()
    {
        const int Limit = 4;
        const int Flood = 40;
        using var app = new GatedTransferApp(
            ("Admission:Write:InitialLimit", $"{Limit}"), ("Admission:Write:MinLimit", $"{Limit}"), ("Admission:Write:MaxLimit", $"{Limit}"),
            ("Admission:Write:QueueLimit", "0"), ("Admission:RequestBudget", "00:00:30"), ("Bus:Workers", "1"), ("Bus:Deadline", "00:00:30"));
        using var pair = await app.RegisterPairAsync();
        var (_, bob, client) = pair;
        app.Close();

        // The gate holds the only worker: the first transfers fill the write bulkhead and stay there.
        var sends = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < Flood; i++)
        {
            var key = $"flood-{i}";
            sends.Add(Task.Run(() => client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
            {
                Content = JsonContent.Create(new { to_account_number = bob.AccountNumber, amount = 10 }),
                Headers = { { "Idempotency-Key", key } },
            })));
        }
        var limiter = app.Services.GetRequiredService<AdmissionControl>()[Bulkhead.Write];
        Assert.NotNull(await TallyTestKit.PollAsync(() => Task.FromResult<object?>(sends.Count(t => t.IsCompleted) >= Flood - Limit ? sends : null), Patience, TimeSpan.FromMilliseconds(10)));
        Assert.Equal(Limit, limiter.InFlight);

        app.Open();
        var responses = await Task.WhenAll(sends).WaitAsync(Patience);
        var accepted = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
        {
            await AssertOverloadedAsync(refused);
        }
        Assert.Equal(Limit, accepted);
        Assert.Equal((100_000L - 10 * Limit, 100_000L - 10 * Limit), await client.GetBalanceAsync());
        Assert.Equal(100_000L + 10 * Limit, (await app.GetBalanceAsync(bob)).Balance);
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task ATransfer_WhoseRequestTimeoutPassesWhileItIsQueued_Gets504_AndIsNeverApplied()
    {
        using var app = new GatedTransferApp(("Bus:Workers", "1"), ("Bus:Deadline", "00:00:30"), ("Admission:RequestBudget", "00:00:30"));
        using var pair = await app.RegisterPairAsync();
        var (_, bob, client) = pair;

        var running = await app.HoldATransferAsync(client, bob.AccountNumber);
        var late = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
        {
            Content = JsonContent.Create(new { to_account_number = bob.AccountNumber, amount = 200 }),
            Headers = { { "Idempotency-Key", "late-one" }, { Deadline.RequestTimeoutHeader, "300ms" } },
        });

        await late.AssertProblemAsync(HttpStatusCode.GatewayTimeout, ErrorCodes.DeadlineExceeded);
        app.Open();
        await (await running).AssertJsonAsync();
        // One worker takes commands in order: once a later transfer is done, the expired one was dropped, not run.
        await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 300 });
        Assert.Equal((99_600L, 99_600L), await client.GetBalanceAsync());
        // Its key was never used: sending it again applies it now, for the first time.
        var retry = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
        {
            Content = JsonContent.Create(new { to_account_number = bob.AccountNumber, amount = 200 }),
            Headers = { { "Idempotency-Key", "late-one" } },
        });
        await retry.AssertJsonAsync();
        Assert.False(retry.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal((99_400L, 99_400L), await client.GetBalanceAsync());
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task ARequest_WhoseBudgetIsAlreadySpent_IsDroppedBeforeItStarts()
    {
        using var app = new EmbeddedTallyApp();
        using var pair = await app.RegisterPairAsync();
        var (_, bob, client) = pair;

        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer")
        {
            Content = JsonContent.Create(new { to_account_number = bob.AccountNumber, amount = 500 }),
            Headers = { { Deadline.RequestTimeoutHeader, "0ms" } },
        });

        await response.AssertProblemAsync(HttpStatusCode.GatewayTimeout, ErrorCodes.DeadlineExceeded);
        Assert.Equal((100_000L, 100_000L), await client.GetBalanceAsync());
        await app.AssertAuditOkAsync();
    }

    [Fact]
    public async Task AWrite_WhoseDeadlinePassedBeforeTheDatabaseBatch_IsDroppedUnstarted()
    {
        using var app = new EmbeddedTallyApp();
        await app.RegisterAndLoginAsync();
        var writer = app.Services.GetRequiredService<WriteQueue>();

        var dropped = await Task.Run(async () =>
        {
            Deadline.Current = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(1);
            return await Record.ExceptionAsync(() => writer.ExecuteAsync(c =>
            {
                using var command = c.CreateCommand();
                command.CommandText = "CREATE TABLE dropped_probe (id INTEGER)";
                return command.ExecuteNonQuery();
            }));
        });
        var kept = await Task.Run(() => writer.ExecuteAsync(c =>
        {
            using var command = c.CreateCommand();
            command.CommandText = "SELECT count(*) FROM sqlite_master WHERE name = 'dropped_probe'";
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }));

        Assert.IsType<CommandDeadlineExceededException>(dropped);
        Assert.True(kept.IsSuccess);
        Assert.Equal(0L, kept.Value);
    }
}
