using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tally.Web.Tests.Infrastructure;

/// <summary>
/// A .NET server started as a real child process (`dotnet some.dll --urls ...`) on a loopback port,
/// ready once a GET of its readiness path answers 200. It can be killed and started again on the same port.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly ProcessStartInfo _start;
    private readonly string _readyPath;
    private readonly StringBuilder _output = new();
    private Process? _process;

    private ServerProcess(ProcessStartInfo start, Uri baseUrl, string readyPath)
    {
        _start = start;
        BaseUrl = baseUrl;
        _readyPath = readyPath;
    }

    public Uri BaseUrl { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<ServerProcess> StartAsync(string dll, string workingDirectory, IReadOnlyDictionary<string, string> environment, string readyPath)
    {
        Assert.True(File.Exists(dll), $"{dll} is missing: build it with -c {Repository.Configuration} first");
        var baseUrl = new Uri($"http://127.0.0.1:{FreePort()}");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(baseUrl.ToString().TrimEnd('/'));
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        var server = new ServerProcess(start, baseUrl, readyPath);
        await server.LaunchAsync();
        return server;
    }

    private async Task LaunchAsync()
    {
        _process = Process.Start(_start)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        try
        {
            await WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        }
        catch
        {
            await StopAsync();
            throw;
        }
    }

    /// <summary>Kills the process (as a crash would) and starts it again with the same port, data and settings.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await LaunchAsync();
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
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            Assert.False(_process!.HasExited, $"{_start.ArgumentList[0]} exited with {(_process.HasExited ? _process.ExitCode : 0)}:\n{Output}");
            try
            {
                using var response = await client.GetAsync(new Uri(BaseUrl, _readyPath));
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
        throw new TimeoutException($"{_start.ArgumentList[0]} was not ready within {limit}:\n{Output}");
    }

    private async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _process.Dispose();
        _process = null;
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
