using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tally.Server.Tests.Infrastructure;

/// <summary>A real Tally.Server process with <c>Role=worker</c> (the built Tally.Server.dll) on a free loopback port.</summary>
public sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private int _disposed;

    private WorkerProcess(Process process, int port, string log)
    {
        _process = process;
        Port = port;
        LogFile = log;
    }

    public int Port { get; }

    public string LogFile { get; }

    /// <summary>Starts a worker with the given configuration (keys as in appsettings, <c>Section:Key</c>).</summary>
    public static WorkerProcess Start(IEnumerable<KeyValuePair<string, string?>> settings, string name)
    {
        var dll = ServerDll();
        var port = FreePort();
        var logs = Path.Combine(DistributedServices.Folder, "workers");
        Directory.CreateDirectory(logs);
        var log = Path.Combine(logs, $"{name}-{port}.log");
        var start = new ProcessStartInfo("bash") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        // exec: the pid is dotnet's own, so killing it stops the worker and nothing else.
        start.ArgumentList.Add($"exec dotnet '{dll}' --urls http://127.0.0.1:{port} >'{log}' 2>&1");
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value ?? "";
        }
        start.Environment["Role"] = "worker";
        var worker = new WorkerProcess(Process.Start(start)!, port, log);
        DistributedServices.Track(worker);
        return worker;
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(2) };
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The worker exited ({_process.ExitCode}):\n{ReadLog()}");
            }
            try
            {
                using var response = await client.GetAsync("/ready");
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
            await Task.Delay(100);
        }
        throw new TimeoutException($"The worker was not ready within {timeout}:\n{ReadLog()}");
    }

    public string ReadLog() => File.Exists(LogFile) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(40)) : "(no log)";

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // It had already exited.
        }
        _process.Dispose();
    }

    private static string ServerDll()
    {
        foreach (var configuration in new[] { "Release", "Debug" })
        {
            var dll = Path.Combine(DistributedServices.RepoRoot, "src", "Tally.Server", "bin", configuration, "net10.0", "Tally.Server.dll");
            if (File.Exists(dll))
            {
                return dll;
            }
        }
        throw new FileNotFoundException("Build src/Tally.Server first: Tally.Server.dll not found.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
