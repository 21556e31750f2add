using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tally.Testing;

/// <summary>
/// A real Tally.Server process (the built Tally.Server.dll) on a free loopback port, its output in a log file.
/// Linked into each test project that starts Tally as a separate process.
/// </summary>
public sealed class TallyProcess : IDisposable
{
    private readonly Process _process;
    private int _disposed;

    private TallyProcess(Process process, int port, string log)
    {
        _process = process;
        Port = port;
        LogFile = log;
    }

    public int Port { get; }

    public string LogFile { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

    public int Id => _process.Id;

    /// <summary>The folder that holds Tally.slnx, above the test assembly.</summary>
    public static string RepoRoot => ServerProcess.RepoRoot;

    public static string ServerDll
    {
        get
        {
            foreach (var configuration in new[] { "Release", "Debug" })
            {
                var dll = Path.Combine(RepoRoot, "src", "Tally.Server", "bin", configuration, "net10.0", "Tally.Server.dll");
                if (File.Exists(dll))
                {
                    return dll;
                }
            }
            throw new FileNotFoundException("Build src/Tally.Server first: Tally.Server.dll not found.");
        }
    }

    public static TallyProcess Start(IDictionary<string, string> environment, string logFolder, string name)
    {
        var port = FreePort();
        Directory.CreateDirectory(logFolder);
        var log = Path.Combine(logFolder, $"{name}-{port}.log");
        var start = new ProcessStartInfo("bash") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        // exec: the pid is dotnet's own, so a kill -9 of it kills the server, nothing else.
        start.ArgumentList.Add($"exec dotnet '{ServerDll}' --urls http://127.0.0.1:{port} >'{log}' 2>&1");
        // The test runner and other suites share the cores: their load is not this process's overload.
        start.Environment["Admission__MaxQueueDelay"] = "00:00:01";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        return new TallyProcess(Process.Start(start)!, port, log);
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Tally exited ({_process.ExitCode}):\n{ReadLog()}");
            }
            try
            {
                if ((await client.GetAsync("/ready")).IsSuccessStatusCode)
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
        throw new TimeoutException($"Tally was not ready within {timeout}:\n{ReadLog()}");
    }

    public string ReadLog() => File.Exists(LogFile) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(40)) : "(no log)";

    /// <summary>Sends a signal (STOP, CONT) to this process only, by its pid.</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit(5_000);
    }

    /// <summary>SIGKILL: no shutdown, no acks; the broker requeues what this process held.</summary>
    public void KillHard()
    {
        if (Volatile.Read(ref _disposed) == 0 && !_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
            _process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        KillHard();
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
