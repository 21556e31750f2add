using System.Diagnostics;
using System.Text.RegularExpressions;
using Tally.Testing;

namespace Tally.RabbitMq.Tests.Infrastructure;

/// <summary>Every test of this project runs in this collection, against one private set of services.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ServicesCollection : ICollectionFixture<PrivateServices>
{
    public const string Name = "RabbitMQ";
}

/// <summary>
/// Real private PostgreSQL, Redis and RabbitMQ from <c>scripts/services.sh up</c> in a state folder of its own
/// (mktemp), stopped with <c>down</c> at the end. If they cannot start, every test fails.
/// </summary>
public sealed partial class PrivateServices : IAsyncLifetime
{
    private readonly List<IDisposable> _owned = [];

    public PrivateServices()
    {
        Folder = Path.Combine("/tmp", "tally-rmq-tests-" + Guid.NewGuid().ToString("N")[..10]);
    }

    public string Folder { get; }

    public IReadOnlyDictionary<string, string> Env { get; private set; } = new Dictionary<string, string>();

    public string RabbitMq => Env["ConnectionStrings__RabbitMq"];

    public string Postgres => Env["ConnectionStrings__Postgres"];

    public static string RepoRoot => TallyProcess.RepoRoot;

    public async Task InitializeAsync()
    {
        var (code, output, errors) = await RunAsync("up");
        if (code != 0)
        {
            throw new InvalidOperationException($"scripts/services.sh up failed ({code}):\n{errors}");
        }
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match match in ExportLine().Matches(output))
        {
            env[match.Groups[1].Value] = match.Groups[2].Value;
        }
        Env = env;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => RunAsync("down").GetAwaiter().GetResult();
    }

    public T Own<T>(T disposable)
        where T : IDisposable
    {
        lock (_owned)
        {
            _owned.Add(disposable);
        }
        return disposable;
    }

    public Task<(int Code, string Output, string Errors)> RunAsync(params string[] args) => RunScriptAsync(Folder, args);

    private static async Task<(int Code, string Output, string Errors)> RunScriptAsync(string folder, string[] args)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(RepoRoot, "scripts", "services.sh"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["TALLY_SERVICES_DIR"] = folder;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    public async Task DisposeAsync()
    {
        List<IDisposable> owned;
        lock (_owned)
        {
            owned = [.. _owned];
            _owned.Clear();
        }
        foreach (var item in owned)
        {
            try
            {
                item.Dispose();
            }
            catch (Exception)
            {
                // Best effort: the services go down next anyway.
            }
        }
        await RunAsync("down");
    }

    [GeneratedRegex(@"^export ([A-Za-z_][A-Za-z0-9_]*)='([^']*)'$", RegexOptions.Multiline)]
    private static partial Regex ExportLine();
}
