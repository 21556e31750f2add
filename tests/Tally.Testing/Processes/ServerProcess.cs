using System.Net.Sockets;
using System.Reflection;

namespace Tally.Testing;

/// <summary>
/// A .NET server started as a real child process (`dotnet some.dll --urls ...`) on a loopback port,
/// ready once a GET of its readiness path answers 200, its output captured. It can be paused with a signal, killed
/// and started again on the same port. The one wrapper of every test that runs Tally or the gateway as a process.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable, IDisposable
{
    private readonly ProcessStartInfo _start;
    private readonly string _readyPath;
    private readonly StringBuilder _output = new();
    private Process? _process;
    private string? _logFile;

    private ServerProcess(ProcessStartInfo start, Uri baseUrl, string readyPath)
    {
        _start = start;
        BaseUrl = baseUrl;
        _readyPath = readyPath;
    }

    public Uri BaseUrl { get; }

    /// <summary>The base address, for an <see cref="HttpClient"/>.</summary>
    public Uri BaseAddress => BaseUrl;

    /// <summary>The pid of the running process.</summary>
    public int Id => _process?.Id ?? throw new InvalidOperationException("The process is not running");

    /// <summary>True once the process has ended (a crash, or <see cref="KillAsync"/>).</summary>
    public bool HasExited => _process is not { HasExited: false };

    /// <summary>What the process printed: captured, or read from its log file (<see cref="LaunchTally"/>).</summary>
    public string Output
    {
        get
        {
            if (_logFile is not null)
            {
                return File.Exists(_logFile) ? File.ReadAllText(_logFile) : "";
            }
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The folder that holds Tally.slnx, above the test assembly.</summary>
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tally.slnx")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException("Tally.slnx not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The build configuration of the tests (this library is built with them); the servers come from the same one.</summary>
    public static string Configuration =>
        typeof(ServerProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    /// <summary>The built dll of a project under src/, e.g. <c>Tally.Server</c>.</summary>
    public static string BuiltDll(string project) =>
        Path.Combine(RepoRoot, "src", project, "bin", Configuration, "net10.0", project + ".dll");

    /// <summary>Tally on the embedded default (SQLite in <paramref name="dataDirectory"/>), with cheap password hashing and no login or registration limits.</summary>
    public static Task<ServerProcess> StartEmbeddedTallyAsync(string dataDirectory, string adminSecret, int? port = null) =>
        StartAsync(BuiltDll("Tally.Server"), dataDirectory, new Dictionary<string, string>
        {
            ["Storage__DataDirectory"] = dataDirectory,
            ["Admin__Secret"] = adminSecret,
            ["Auth__PasswordIterations"] = "1000",
            ["Auth__LoginPermitsPerIpPerMinute"] = "1000000",
            ["Auth__LoginPermitsPerPhonePerMinute"] = "1000000",
            ["Auth__RegistrationsPerIpPerMinute"] = "1000000",
            ["Logging__LogLevel__Default"] = "Warning",
        }, "/ready", port);

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts <paramref name="dll"/> on <paramref name="port"/> (a free one if null) and waits until it is ready.</summary>
    public static async Task<ServerProcess> StartAsync(string dll, string workingDirectory, IReadOnlyDictionary<string, string> environment, string readyPath, int? port = null)
    {
        var server = Launch(dll, workingDirectory, environment, readyPath, port);
        await server.WaitUntilLaunchedAsync();
        return server;
    }

    /// <summary>
    /// Starts Tally.Server with <paramref name="environment"/> (its role, storage, bus) on a free port without waiting
    /// for it: several processes then start side by side; <see cref="WaitReadyAsync"/> waits for each.
    /// </summary>
    public static ServerProcess LaunchTally(IReadOnlyDictionary<string, string> environment, string logFolder, string name)
    {
        ArgumentNullException.ThrowIfNull(environment);
        Directory.CreateDirectory(logFolder);
        var baseUrl = new Uri($"http://127.0.0.1:{FreePort()}");
        var log = Path.Combine(logFolder, $"{name}-{baseUrl.Port}.log");
        var start = new ProcessStartInfo("bash") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        // exec: the pid is dotnet's own, so a signal or a kill -9 of it reaches the server and nothing else. The
        // output goes to a file, which never holds the server up as a full pipe to a busy test process would.
        start.ArgumentList.Add($"exec dotnet '{BuiltDll("Tally.Server")}' --urls {baseUrl.ToString().TrimEnd('/')} >'{log}' 2>&1");
        start.Environment["Admission__MaxQueueDelay"] = "00:00:01";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var server = new ServerProcess(start, baseUrl, "/ready") { _logFile = log };
        server.Begin();
        return server;
    }

    /// <summary>
    /// Starts another server program (Prometheus, say) listening on <paramref name="baseUrl"/> with its output
    /// captured, and waits until a GET of <paramref name="readyPath"/> answers 200.
    /// </summary>
    public static async Task<ServerProcess> StartProgramAsync(ProcessStartInfo start, Uri baseUrl, string readyPath)
    {
        ArgumentNullException.ThrowIfNull(start);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var server = new ServerProcess(start, baseUrl, readyPath);
        server.Begin();
        await server.WaitUntilLaunchedAsync();
        return server;
    }

    private static ServerProcess Launch(string dll, string workingDirectory, IReadOnlyDictionary<string, string> environment, string readyPath, int? port)
    {
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is missing: build it in the configuration of the tests first", dll);
        }
        var baseUrl = new Uri($"http://127.0.0.1:{port ?? FreePort()}");
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
        // The test runner and other suites share the cores: their load is not this process's overload, so a
        // thread-pool queue only sheds once it stands for a second (a test of that sets its own).
        start.Environment["Admission__MaxQueueDelay"] = "00:00:01";
        start.Environment["Gateway__Limits__MaxQueueDelay"] = "00:00:01";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        var server = new ServerProcess(start, baseUrl, readyPath);
        server.Begin();
        return server;
    }

    private void Begin()
    {
        _process = Process.Start(_start)!;
        if (!_start.RedirectStandardOutput)
        {
            return;
        }
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private async Task LaunchAsync()
    {
        Begin();
        await WaitUntilLaunchedAsync();
    }

    private async Task WaitUntilLaunchedAsync()
    {
        try
        {
            await WaitReadyAsync(TimeSpan.FromSeconds(90));
        }
        catch
        {
            await KillAsync();
            throw;
        }
    }

    /// <summary>Kills the process (as a crash would) and starts it again with the same port, data and settings.</summary>
    public async Task RestartAsync()
    {
        await KillAsync();
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

    /// <summary>Waits until the readiness path answers 200; fails with the output if the process exits first.</summary>
    public async Task WaitReadyAsync(TimeSpan limit)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await WaitForAsync(
            async () =>
            {
                using var response = await client.GetAsync(new Uri(BaseUrl, _readyPath));
                return response.IsSuccessStatusCode;
            },
            limit,
            "ready at " + _readyPath);
    }

    /// <summary>
    /// Polls <paramref name="condition"/> (a connection refused or a timeout counts as false) until it holds; fails
    /// with the process's output if the process exits first or the time is up.
    /// </summary>
    public async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan limit, string what)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (HasExited)
            {
                throw new InvalidOperationException($"{Name} exited before {what}:\n{Output}");
            }
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
            await Task.Delay(200);
        }
        throw new TimeoutException($"{Name}: waited {limit} for {what}:\n{Output}");
    }

    private string Name => _logFile ?? (_start.FileName == "dotnet" ? _start.ArgumentList[0] : _start.FileName);

    /// <summary>Sends a signal (STOP, CONT) to this process only, by its pid.</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit(5_000);
    }

    /// <summary>SIGKILL, waiting for the exit: no shutdown, no acks; a broker requeues what this process held.</summary>
    public void KillHard() => KillAsync().GetAwaiter().GetResult();

    public void Dispose() => KillHard();

    /// <summary>SIGKILL to the process tree: no graceful shutdown, in-flight requests are cut.</summary>
    public async Task KillAsync()
    {
        // Taken once: a test's own disposal and the end of the test run may both get here.
        var process = Interlocked.Exchange(ref _process, null);
        if (process is null)
        {
            return;
        }
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        process.Dispose();
    }

    public ValueTask DisposeAsync() => new(KillAsync());
}
