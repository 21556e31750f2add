using Tally.Testing;

namespace Tally.Deploy.Tests;

/// <summary>deploy/grafana: the dashboard parses, has the panels operators need, and queries only metrics that a running Tally really exposes.</summary>
[Collection(TallyCollection.Name)]
public sealed class GrafanaDashboardTests(TallyProcess tally)
{
    private static JsonDocument Dashboard() => JsonDocument.Parse(File.ReadAllText(Repo.PathOf("deploy", "grafana", "tally.json")));

    private static IEnumerable<JsonElement> Panels(JsonElement dashboard) =>
        dashboard.GetProperty("panels").EnumerateArray().SelectMany(p => p.TryGetProperty("panels", out var inner) ? inner.EnumerateArray().Prepend(p) : [p]);

    private static List<string> Expressions(JsonElement dashboard)
    {
        var expressions = Panels(dashboard)
            .Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)
            .ToList();
        foreach (var variable in dashboard.GetProperty("templating").GetProperty("list").EnumerateArray().Where(v => v.GetProperty("type").GetString() == "query"))
        {
            // label_values(metric, label): the metric is what the variable reads.
            var definition = variable.GetProperty("definition").GetString()!;
            expressions.Add(definition["label_values(".Length..definition.IndexOf(',', StringComparison.Ordinal)]);
        }
        return expressions;
    }

    // The gateway exports its own metrics (tally_gateway_*); everything else comes from Tally.Server.
    private static bool IsGatewayMetric(string metric) => metric.StartsWith("tally_gateway_", StringComparison.Ordinal);

    private async Task<HashSet<string>> ExposedAsync(Uri baseUrl) =>
        (await tally.Client.GetStringAsync(new Uri(baseUrl, "/metrics")))
            .Split('\n')
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l[..l.IndexOfAny(['{', ' '])])
            .ToHashSet();

    [Fact]
    public void Dashboard_Parses_AndShowsRedPerRoute_TransfersByStatus_Percentiles_QueueDepth_Instances_AndCacheHitRate()
    {
        using var json = Dashboard();
        var root = json.RootElement;
        var panels = Panels(root).Where(p => p.GetProperty("type").GetString() != "row").ToList();
        var expressions = Expressions(root);

        Assert.Equal("tally-overview", root.GetProperty("uid").GetString());
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        string Query(string title) => string.Join('\n', Assert.Single(panels, p => p.GetProperty("title").GetString() == title)
            .GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("expr").GetString()));
        Assert.Contains("sum by (http_route) (rate(http_server_request_duration_seconds_count", Query("Requests per second by route"), StringComparison.Ordinal);
        Assert.Contains("http_response_status_code=~\"5..\"", Query("Errors per second by route (5xx, and 4xx dashed)"), StringComparison.Ordinal);
        Assert.Contains("histogram_quantile(0.95, sum by (http_route, le)", Query("p95 duration by route"), StringComparison.Ordinal);
        var percentiles = Query("Latency p50, p95, p99 (all API routes)");
        Assert.All(new[] { "0.50", "0.95", "0.99" }, q => Assert.Contains($"histogram_quantile({q},", percentiles, StringComparison.Ordinal));
        Assert.Contains("sum by (status) (rate(tally_transfers_total", Query("Transfers per second by status"), StringComparison.Ordinal);
        Assert.Contains("tally_bus_queue_depth", Query("Queue depth"), StringComparison.Ordinal);
        Assert.Contains("count by (job) (target_info", Query("Instances"), StringComparison.Ordinal);
        Assert.Contains("tally_cache_reads_total{job=~\"$job\", result=\"hit\"}", Query("Cache hit rate"), StringComparison.Ordinal);
        Assert.Contains("tally_ledger_audit_ok", Query("Money audit"), StringComparison.Ordinal);
        Assert.Contains("tally_admission_limit", Query("Admission limit vs in flight, per bulkhead"), StringComparison.Ordinal);
        Assert.Contains("tally_admission_inflight", Query("Admission limit vs in flight, per bulkhead"), StringComparison.Ordinal);
        Assert.Contains("sum by (bulkhead, reason) (rate(tally_admission_refused_total", Query("Refused per second, by bulkhead and reason"), StringComparison.Ordinal);
        Assert.Contains("sum by (stage) (rate(tally_deadline_dropped_total", Query("Deadline drops per second, by stage"), StringComparison.Ordinal);
        Assert.Contains("dotnet_thread_pool_queue_length_total", Query("Thread-pool queue"), StringComparison.Ordinal);
        Assert.Contains("histogram_quantile(0.99, sum by (le) (rate(tally_bus_round_trip_seconds_bucket", Query("Bus round trip p50, p99 (send to result)"), StringComparison.Ordinal);
        var gateway = Query("Gateway: panic mode and upstream weights");
        Assert.All(new[] { "tally_gateway_panic", "tally_gateway_upstream_weight", "tally_gateway_upstream_healthy" }, m => Assert.Contains(m, gateway, StringComparison.Ordinal));
        Assert.True(expressions.Count >= 30, $"{expressions.Count} queries");
    }

    [Fact]
    public async Task EveryMetricTheDashboardQueries_IsInTheMetricsOfARunningTally()
    {
        using var json = Dashboard();
        var rules = PromQl.RecordingRules(await File.ReadAllTextAsync(Repo.PathOf("deploy", "prometheus", "tally.rules.yml")));
        var unknownRules = new HashSet<string>();
        var metrics = Expressions(json.RootElement).SelectMany(e => PromQl.RawMetrics(e, rules, unknownRules)).Where(m => !IsGatewayMetric(m)).ToHashSet();

        var exposed = await ExposedAsync(tally.BaseUrl);

        Assert.Empty(unknownRules);
        Assert.True(metrics.Count >= 10, $"only {metrics.Count} metrics: {string.Join(", ", metrics)}");
        Assert.All(metrics, m => Assert.True(exposed.Contains(m), $"the dashboard queries {m}, which Tally's /metrics does not expose"));
    }

    [Fact]
    public async Task EveryGatewayMetricTheDashboardQueries_IsInTheMetricsOfARunningGateway()
    {
        using var json = Dashboard();
        var metrics = Expressions(json.RootElement).SelectMany(e => PromQl.RawMetrics(e, new Dictionary<string, string>())).Where(IsGatewayMetric).ToHashSet();
        var folder = Directory.CreateTempSubdirectory("tally-deploy-gateway-").FullName;
        try
        {
            await using var gateway = await ServerProcess.StartAsync(ServerProcess.BuiltDll("Tally.Gateway"), folder, new Dictionary<string, string>
            {
                ["Gateway__Backends__0"] = tally.BaseUrl.ToString().TrimEnd('/'),
                ["Logging__LogLevel__Default"] = "Warning",
            }, "/health");
            // One request through it, and one it refuses itself (a body over its limit), so that the counters exist
            // as well as the gauges.
            using (var health = await tally.Client.GetAsync(new Uri(gateway.BaseUrl, "/api/auth/health")))
            {
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            }
            using (var tooLarge = await tally.Client.PostAsync(new Uri(gateway.BaseUrl, "/api/auth/register"), new ByteArrayContent(new byte[1 << 20])))
            {
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
            }

            var exposed = await ExposedAsync(gateway.BaseUrl);

            Assert.True(metrics.Count >= 3, $"only {metrics.Count} gateway metrics: {string.Join(", ", metrics)}");
            Assert.All(metrics, m => Assert.True(exposed.Contains(m), $"the dashboard queries {m}, which the gateway's /metrics does not expose"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void MetricExtraction_FindsSelectors_AndSkipsFunctionsLabelsAndVariables()
    {
        var rules = new Dictionary<string, string> { ["tally:x:rate5m"] = "sum by (job) (rate(inner_total{a=\"b\"}[5m]))" };

        var names = PromQl.RawMetrics(
            "histogram_quantile(0.95, sum by (le, http_route) (rate(a_bucket{job=~\"$job\", le=\"0.3\"}[$__rate_interval]))) / on(job) group_left b_total + tally:x:rate5m",
            rules).ToList();

        Assert.Equal(["a_bucket", "b_total", "inner_total"], names.Order().ToArray());
    }
}
