using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace Tally.Gateway.Tests.Infrastructure;

/// <summary>
/// The real Tally, embedded mode, as a child process: `dotnet Tally.Server.dll` from the same build
/// configuration as these tests, on a loopback port, with its data in a temporary folder. Kill() is a
/// SIGKILL, as a crashed machine would be.
/// </summary>
internal sealed class TallyProcess : IAsyncDisposable
{
    public const string AdminSecret = "gateway-e2e-secret";
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    public Uri BaseUrl { get; }
    public string Output { get { lock (_output) { return _output.ToString(); } } }

    private TallyProcess(Process process, Uri baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
    }

    public static string ServerDll()
    {
        var configuration = typeof(TallyProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tally.slnx")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        var dll = Path.Combine(dir.FullName, "src", "Tally.Server", "bin", configuration, "net10.0", "Tally.Server.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build tests/Tally.Gateway.Tests -c {configuration}");
        return dll;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<TallyProcess> StartAsync(string dataDirectory, int? port = null)
    {
        var baseUrl = new Uri($"http://127.0.0.1:{port ?? FreePort()}");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = dataDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ServerDll());
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(baseUrl.ToString().TrimEnd('/'));
        start.Environment["Storage__DataDirectory"] = dataDirectory;
        start.Environment["Admin__Secret"] = AdminSecret;
        start.Environment["Auth__PasswordIterations"] = "1000";
        start.Environment["Auth__LoginPermitsPerIpPerMinute"] = "1000000";
        start.Environment["Auth__LoginPermitsPerPhonePerMinute"] = "1000000";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var tally = new TallyProcess(Process.Start(start)!, baseUrl);
        tally._process.OutputDataReceived += (_, e) => tally.Append(e.Data);
        tally._process.ErrorDataReceived += (_, e) => tally.Append(e.Data);
        tally._process.BeginOutputReadLine();
        tally._process.BeginErrorReadLine();
        try
        {
            await tally.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            await tally.DisposeAsync();
            throw;
        }
        return tally;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            if (_output.Length < 200_000)
            {
                _output.AppendLine(line);
            }
        }
    }

    private async Task WaitUntilReadyAsync(TimeSpan limit)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            Assert.False(_process.HasExited, $"Tally exited with {(_process.HasExited ? _process.ExitCode : 0)}:\n{Output}");
            try
            {
                using var response = await client.GetAsync(new Uri(BaseUrl, "/ready"));
                if (response.IsSuccessStatusCode)
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
            await Task.Delay(200);
        }
        throw new TimeoutException($"Tally was not ready within {limit}:\n{Output}");
    }

    /// <summary>SIGKILL: no graceful shutdown, in-flight requests are cut.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(wait.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _process.Dispose();
    }
}
