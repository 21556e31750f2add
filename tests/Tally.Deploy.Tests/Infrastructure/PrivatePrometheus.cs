namespace Tally.Deploy.Tests.Infrastructure;

/// <summary>
/// A private Prometheus (Debian's package) on a free loopback port with its storage in a temporary folder, scraping
/// one target every second and evaluating Tally's rules every second.
/// </summary>
internal sealed class PrivatePrometheus : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _folder;
    private readonly System.Text.StringBuilder _output = new();

    public Uri BaseUrl { get; }

    public HttpClient Client { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    private PrivatePrometheus(Process process, string folder, Uri baseUrl)
    {
        _process = process;
        _folder = folder;
        BaseUrl = baseUrl;
    }

    public string Output { get { lock (_output) { return _output.ToString(); } } }

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
        var start = new ProcessStartInfo("prometheus")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
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
        var prometheus = new PrivatePrometheus(Process.Start(start)!, folder, baseUrl);
        prometheus._process.OutputDataReceived += (_, e) => prometheus.Append(e.Data);
        prometheus._process.ErrorDataReceived += (_, e) => prometheus.Append(e.Data);
        prometheus._process.BeginOutputReadLine();
        prometheus._process.BeginErrorReadLine();
        try
        {
            await prometheus.WaitForAsync(async () => (await prometheus.Client.GetAsync(new Uri(baseUrl, "/-/ready"))).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "/-/ready");
        }
        catch
        {
            await prometheus.DisposeAsync();
            throw;
        }
        return prometheus;
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

    public async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan limit, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            Assert.False(_process.HasExited, $"Prometheus exited:\n{Output}");
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(500);
        }
        throw new TimeoutException($"Waited {limit} for {what}; Prometheus said:\n{Output}");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            if (_output.Length < 100_000)
            {
                _output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
