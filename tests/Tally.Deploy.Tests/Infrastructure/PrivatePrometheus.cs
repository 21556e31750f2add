using Tally.Testing;

namespace Tally.Deploy.Tests.Infrastructure;

/// <summary>
/// A private Prometheus (Debian's package) on a free loopback port with its storage in a temporary folder, scraping
/// one target every second and evaluating Tally's rules every second.
/// </summary>
internal sealed class PrivatePrometheus : IAsyncDisposable
{
    private readonly ServerProcess _process;
    private readonly string _folder;

    public Uri BaseUrl => _process.BaseUrl;

    public HttpClient Client { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    private PrivatePrometheus(ServerProcess process, string folder)
    {
        _process = process;
        _folder = folder;
    }

    public string Output => _process.Output;

    public static async Task<PrivatePrometheus> StartAsync(Uri target, string job, string rulesFile)
    {
        var folder = Directory.CreateTempSubdirectory("tally-prometheus-").FullName;
        var config = Path.Combine(folder, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            rule_files:
              - {rulesFile}
            scrape_configs:
              - job_name: {job}
                static_configs:
                  - targets: ["{target.Authority}"]
            """);
        var baseUrl = new Uri($"http://127.0.0.1:{TallyProcess.FreePort()}");
        var start = new ProcessStartInfo("prometheus") { WorkingDirectory = folder };
        foreach (var argument in new[]
        {
            $"--config.file={config}",
            $"--storage.tsdb.path={Path.Combine(folder, "data")}",
            $"--web.listen-address={baseUrl.Authority}",
            "--log.level=warn",
        })
        {
            start.ArgumentList.Add(argument);
        }
        return new PrivatePrometheus(await ServerProcess.StartProgramAsync(start, baseUrl, "/-/ready"), folder);
    }

    /// <summary>The instant vector of a query, as (labels, value) pairs.</summary>
    public async Task<IReadOnlyList<(Dictionary<string, string> Labels, string Value)>> QueryAsync(string query)
    {
        using var document = JsonDocument.Parse(await Client.GetStringAsync(new Uri(BaseUrl, "/api/v1/query?query=" + Uri.EscapeDataString(query))));
        Assert.Equal("success", document.RootElement.GetProperty("status").GetString());
        return document.RootElement.GetProperty("data").GetProperty("result").EnumerateArray()
            .Select(r => (
                r.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!),
                r.GetProperty("value")[1].GetString()!))
            .ToList();
    }

    public async Task<JsonDocument> GetAsync(string path) => JsonDocument.Parse(await Client.GetStringAsync(new Uri(BaseUrl, path)));

    public Task WaitForAsync(Func<Task<bool>> condition, TimeSpan limit, string what) => _process.WaitForAsync(condition, limit, what);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
