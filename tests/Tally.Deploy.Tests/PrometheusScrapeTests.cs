namespace Tally.Deploy.Tests;

/// <summary>
/// Acceptance 2: a real Prometheus (Debian's) scrapes a running Tally every second and evaluates deploy/prometheus's
/// rules against it; the SLO recording rules produce values, every rule evaluates without error, and nothing fires.
/// </summary>
[Collection(TallyCollection.Name)]
public sealed class PrometheusScrapeTests(TallyProcess tally)
{
    private const string Job = "tally-api";

    [Fact]
    public async Task Prometheus_ScrapingTally_EvaluatesTheSloRecordingRules()
    {
        await using var prometheus = await PrivatePrometheus.StartAsync(tally.BaseUrl, Job, Repo.PathOf("deploy", "prometheus", "tally.rules.yml"));
        await prometheus.WaitForAsync(
            async () => (await prometheus.QueryAsync($"up{{job=\"{Job}\"}} == 1")).Count == 1,
            TimeSpan.FromSeconds(60),
            "Tally's target to be up");

        // Bounded traffic while the rules are evaluated: at most 60 rounds of reads, one every 250 ms.
        IReadOnlyList<(Dictionary<string, string> Labels, string Value)> errors = [];
        // The ratio is NaN (0/0) until the rule's window holds two samples with traffic between them: wait for a number.
        for (var round = 0; round < 60 && (errors.Count == 0 || errors[0].Value == "NaN"); round++)
        {
            using (var response = await tally.SendAsync(HttpMethod.Get, "/api/account/me", null, null))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }
            await tally.ReadAsync();
            await Task.Delay(250);
            errors = await prometheus.QueryAsync("tally:slo_errors:ratio_rate5m");
        }

        var error = Assert.Single(errors);
        Assert.Equal(Job, error.Labels["job"]);
        Assert.Equal("0", error.Value);
        // A group's rules are evaluated, and their samples written, one after another: the query above can land between
        // the first rule of an evaluation and the next, so each recorded series is awaited before its value is checked.
        var rate = await RecordedAsync(prometheus, "tally:http_requests:rate1m");
        Assert.True(rate > 0, $"request rate {rate}");
        Assert.InRange(await RecordedAsync(prometheus, "tally:slo_slow:ratio_rate5m"), 0, 1);
        Assert.InRange(await RecordedAsync(prometheus, "tally:http_request_duration_seconds:p95_rate5m"), 0, 10);
        await prometheus.WaitForAsync(
            async () => (await prometheus.QueryAsync("tally:slo_error_budget_remaining:ratio")).Count == 1,
            TimeSpan.FromSeconds(30),
            "the 30-day error budget");
        Assert.Equal("1", Assert.Single(await prometheus.QueryAsync("tally:slo_error_budget_remaining:ratio")).Value);
    }

    private static async Task<double> RecordedAsync(PrivatePrometheus prometheus, string series)
    {
        await prometheus.WaitForAsync(
            async () => (await prometheus.QueryAsync(series)) is [var only] && only.Value != "NaN",
            TimeSpan.FromSeconds(30),
            series);
        return double.Parse(Assert.Single(await prometheus.QueryAsync(series)).Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Prometheus_EvaluatesEveryRuleWithoutError_AndNoAlertFires_OnAHealthyTally()
    {
        await using var prometheus = await PrivatePrometheus.StartAsync(tally.BaseUrl, Job, Repo.PathOf("deploy", "prometheus", "tally.rules.yml"));

        await prometheus.WaitForAsync(
            async () =>
            {
                using var rules = await prometheus.GetAsync("/api/v1/rules");
                var all = rules.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
                return all.Count > 0 && all.All(r => r.GetProperty("health").GetString() != "unknown");
            },
            TimeSpan.FromSeconds(60),
            "every rule to be evaluated once");
        await prometheus.WaitForAsync(
            async () => (await prometheus.QueryAsync("tally_ledger_audit_ok")).Count == 1,
            TimeSpan.FromSeconds(60),
            "the audit gauge to be scraped");

        using var evaluated = await prometheus.GetAsync("/api/v1/rules");
        var bad = evaluated.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .Where(r => r.GetProperty("health").GetString() != "ok")
            .Select(r => $"{r.GetProperty("name").GetString()}: {r.GetProperty("health").GetString()} {(r.TryGetProperty("lastError", out var e) ? e.GetString() : "")}")
            .ToList();
        Assert.Empty(bad);
        Assert.Equal("1", Assert.Single(await prometheus.QueryAsync("tally_ledger_audit_ok")).Value);
        Assert.Equal("0", Assert.Single(await prometheus.QueryAsync("tally_ledger_sum")).Value);
        Assert.Equal("1", Assert.Single(await prometheus.QueryAsync("tally_ready")).Value);
        Assert.Empty(await prometheus.QueryAsync("ALERTS{alertstate=\"firing\"}"));
    }
}
