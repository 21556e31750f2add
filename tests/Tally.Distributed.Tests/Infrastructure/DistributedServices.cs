using System.Diagnostics;
using System.Text.RegularExpressions;
using Npgsql;
using Tally.Testing;

namespace Tally.Server.Tests.Infrastructure;

/// <summary>
/// One private set of real servers for the whole test run: PostgreSQL, Redis (a master, a replica and three
/// Sentinels) and RabbitMQ from <c>scripts/services.sh up</c>, in a state folder of its own, stopped with
/// <c>down</c> once the test process has exited (its worker processes are killed as it exits).
/// </summary>
public static partial class DistributedServices
{
    private static readonly Lazy<IReadOnlyDictionary<string, string>> s_env = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly List<IDisposable> s_processes = [];

    public static string Folder { get; } = Path.Combine("/tmp", "tally-dist-tests-" + Guid.NewGuid().ToString("N")[..10]);

    public static IReadOnlyDictionary<string, string> Env => s_env.Value;

    private static string Script => Path.Combine(TallyProcess.RepoRoot, "scripts", "services.sh");

    /// <summary>A new, empty database on the private server; Tally migrates it at start-up.</summary>
    public static string CreateDatabase(string name)
    {
        var server = Env["ConnectionStrings__Postgres"];
        using (var connection = new NpgsqlConnection(server + ";Pooling=false"))
        {
            connection.Open();
            using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            command.ExecuteNonQuery();
        }
        return new NpgsqlConnectionStringBuilder(server) { Database = name, MaxPoolSize = 40 }.ConnectionString;
    }

    /// <summary>Stopped when the test process exits, before the servers, if nothing disposed it earlier.</summary>
    public static T Own<T>(T process)
        where T : IDisposable
    {
        lock (s_processes)
        {
            s_processes.Add(process);
        }
        return process;
    }

    private static IReadOnlyDictionary<string, string> Start()
    {
        var (code, output, errors) = Run("up");
        if (code != 0)
        {
            throw new InvalidOperationException($"scripts/services.sh up failed ({code}):\n{errors}");
        }
        // The test host may be ended before a ProcessExit handler could finish a slow "down", so a detached
        // watchdog stops the servers once this process is gone, however it ends.
        var watchdog = new ProcessStartInfo("setsid") { UseShellExecute = false };
        watchdog.ArgumentList.Add("bash");
        watchdog.ArgumentList.Add("-c");
        watchdog.ArgumentList.Add($"exec </dev/null >/dev/null 2>&1; while kill -0 {Environment.ProcessId}; do sleep 1; done; exec bash '{Script}' down");
        watchdog.Environment["TALLY_SERVICES_DIR"] = Folder;
        Process.Start(watchdog)!.Dispose();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopProcesses();
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match match in ExportLine().Matches(output))
        {
            env[match.Groups[1].Value] = match.Groups[2].Value;
        }
        return env;
    }

    private static void StopProcesses()
    {
        lock (s_processes)
        {
            foreach (var process in s_processes)
            {
                process.Dispose();
            }
            s_processes.Clear();
        }
    }

    private static (int Code, string Output, string Errors) Run(string command)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(command);
        start.Environment["TALLY_SERVICES_DIR"] = Folder;
        // Each test class has its own database, api and worker; their pools together need room.
        start.Environment["TALLY_PG_MAX_CONNECTIONS"] = "600";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"scripts/services.sh {command} did not finish within 8 minutes");
        }
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    [GeneratedRegex(@"^export ([A-Za-z_][A-Za-z0-9_]*)='([^']*)'$", RegexOptions.Multiline)]
    private static partial Regex ExportLine();
}
