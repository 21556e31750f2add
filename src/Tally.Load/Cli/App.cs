using System.Diagnostics;
using Spectre.Console;
using Tally.Load.Capacity;
using Tally.Load.Report;

namespace Tally.Load.Cli;

public static partial class App
{
    private const string Usage = """
        tally-load: load, stress and capacity testing for Tally (loopback targets only)

          tally-load seed     --users 500 --workers 20 --out users.json [--target URL] [--phone-prefix 5550]
          tally-load run      --scenario login|balance|transfer|mixed|banking-demo|ws | --scenario-file FILE | --url URL
                              [--vus N [--think 1s] | --rate R [--max-backlog 100000]] [--duration 30s | --stages 30s:100,1m:500,30s:0]
          tally-load capacity --scenario ... | --scenario-file FILE | --url URL [--slo "p95<300ms,errors<1%"] [--vus N]
                              [--start 50] [--factor 2] [--max 100000] [--warmup 2s] [--step 10s] [--cooldown 1s]
                          [--precision 0.05] [--max-steps 20] [--think 1s]
          tally-load stress   --scenario ... | --scenario-file FILE | --url URL [--capacity R | the search's options above] [--vus [N] [--think 1s]]
                              [--phases 0.5,2,3,5,0.5] [--phase-duration 10s] [--probe-think 100ms|off] [--slo "p95<300ms,errors<1%"]
                              [--expect "goodput>=0.9,goodput@5>=0.75,accepted-p99<300ms,refused-p99<20ms,recovery<5s,memory<=1.5,no-healthy-upstream<=0"]
          tally-load compare  BASE.json CANDIDATE.json [--fail-on "p95>+10%,rps<-5%"] [--noise 2%] [--json OUT] [--html OUT]
          tally-load audit    [--target URL] --admin-secret S
          tally-load agent    --listen 127.0.0.1:7070   (a generator that takes its share of run/capacity/stress --agents)

        common: --target http://127.0.0.1:8080 (default: the file's base_url)  --users-file users.json (the file's data)  --slo EXPR  --abort-on-fail  --agents HOST:PORT,...
                --json result.json  --html report.html  --timeout 10s  --max-vus 256  --max-requests N
                --admin-secret S (or TALLY_ADMIN_SECRET)  --no-audit  --quiet  --ws-clients N
                --server-metrics URL|off (default: the target's /metrics, sampled every second)

        exit codes: 0 ok · 1 error · 2 bad arguments · 3 a threshold (--slo, --expect, --fail-on) was breached
                    4 aborted early by --abort-on-fail or Ctrl+C · 5 the audit failed (money created or destroyed)
        """;

    public static async Task<int> RunAsync(string[] args, IAnsiConsole console, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            console.WriteLine(Usage);
            return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Ok;
        }
        Arguments a;
        try
        {
            a = new Arguments(args.Skip(1), args[0] == "compare" ? 2 : 0);
        }
        catch (ArgumentException e)
        {
            console.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return ExitCodes.Usage;
        }
        try
        {
            return args[0] switch
            {
                "seed" => await SeedAsync(a, console, ct).ConfigureAwait(false),
                "run" => await RunCommandAsync(a, console, ct).ConfigureAwait(false),
                "capacity" => await CapacityAsync(a, console, ct).ConfigureAwait(false),
                "audit" => await AuditCommandAsync(a, console, ct).ConfigureAwait(false),
                "stress" => await StressAsync(a, console, ct).ConfigureAwait(false),
                "compare" => await CompareAsync(a, console, ct).ConfigureAwait(false),
                "agent" => await AgentAsync(a, console, ct).ConfigureAwait(false),
                _ => throw new ArgumentException($"unknown command '{args[0]}' (seed, run, capacity, stress, compare, audit, agent)"),
            };
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            console.MarkupLine("[yellow]interrupted[/]");
            return ExitCodes.Aborted;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            console.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            console.WriteLine("run `tally-load --help` for usage");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or Distributed.AgentException)
        {
            console.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return ExitCodes.Failure;
        }
    }

    private static Uri Target(Arguments a)
    {
        var uri = new Uri(a.String("target", "http://127.0.0.1:8080"));
        Http.EnsureLoopback(uri);
        return uri;
    }

    private static async Task<int> SeedAsync(Arguments a, IAnsiConsole console, CancellationToken ct)
    {
        var target = Target(a);
        var count = a.Int("users", 500);
        var workers = Math.Max(1, a.Int("workers", 20));
        var output = a.String("out", "users.json");
        var prefix = a.String("phone-prefix", "5550");
        var quiet = a.Flag("quiet");
        a.EnsureAllUsed();
        using var client = Http.CreateClient(workers, TimeSpan.FromSeconds(30));
        var users = new SeededUser[count];
        var existed = 0;
        var clock = Stopwatch.StartNew();
        async Task Work(Action? onDone)
        {
            await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = ct }, async (i, token) =>
            {
                var (user, was) = await TallyApi.EnsureUserAsync(client, target, TallyApi.PhoneFor(prefix, i), TallyApi.PasswordFor(i), token).ConfigureAwait(false);
                users[i] = user;
                if (was)
                {
                    Interlocked.Increment(ref existed);
                }
                onDone?.Invoke();
            }).ConfigureAwait(false);
        }
        if (quiet || !console.Profile.Capabilities.Interactive)
        {
            await Work(null).ConfigureAwait(false);
        }
        else
        {
            await console.Progress().StartAsync(async ctx =>
            {
                var task = ctx.AddTask($"seeding {count} users ({workers} workers)", maxValue: count);
                await Work(() => task.Increment(1)).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(users, TallyApi.Json), ct).ConfigureAwait(false);
        console.MarkupLineInterpolated($"seeded [green]{count - existed}[/] new, [yellow]{existed}[/] already there, in {clock.Elapsed.TotalSeconds:0.0} s → {output}");
        return ExitCodes.Ok;
    }

    private static async Task<int> AuditCommandAsync(Arguments a, IAnsiConsole console, CancellationToken ct)
    {
        var target = Target(a);
        var secret = Secret(a) ?? throw new ArgumentException("audit needs --admin-secret (or TALLY_ADMIN_SECRET)");
        a.EnsureAllUsed();
        using var client = Http.CreateClient(1, TimeSpan.FromSeconds(60));
        var audit = await TallyApi.AuditAsync(client, target, secret, ct).ConfigureAwait(false);
        PrintAudit(console, audit);
        return audit.Passed ? ExitCodes.Ok : ExitCodes.AuditFailed;
    }

    private static string? Secret(Arguments a) => a.String("admin-secret") ?? Environment.GetEnvironmentVariable("TALLY_ADMIN_SECRET");

    private static void PrintAudit(IAnsiConsole console, AuditResult audit)
    {
        if (audit.Passed)
        {
            console.MarkupLineInterpolated($"audit: [green]ok[/], the ledger sums to {audit.LedgerSum}");
        }
        else
        {
            console.MarkupLineInterpolated($"audit: [red]FAILED[/]: money was created or destroyed, or the audit could not run: {audit.Raw}");
        }
    }

    /// <summary>What run and capacity share: the target, the scenario and the audit.</summary>
    private sealed class Setup : IAsyncDisposable
    {
        public required Uri Target { get; init; }
        public required IScenario Scenario { get; init; }
        public required HttpClient Client { get; init; }
        public required bool IsTally { get; init; }
        public string? Secret { get; init; }
        public bool Audit { get; init; }
        public Uri? MetricsUrl { get; init; }
        /// <summary>The scenario file's own SLO, which applies when the command line gives no --slo.</summary>
        public Slo? Slo { get; init; }
        /// <summary>A scenario file's text, which agents receive instead of reading a file of their own.</summary>
        public string? ScenarioText { get; init; }
        /// <summary>The data (users) file, whose content agents receive.</summary>
        public string? DataPath { get; init; }
        /// <summary>With --agents: the agents that take their shares of every engine run.</summary>
        public Distributed.AgentPool? Agents { get; set; }

        public async ValueTask DisposeAsync()
        {
            if (Agents is not null)
            {
                await Agents.DisposeAsync().ConfigureAwait(false);
            }
            if (Scenario is IAsyncDisposable d)
            {
                await d.DisposeAsync().ConfigureAwait(false);
            }
            Client.Dispose();
        }
    }

    private static async Task<Setup> PrepareAsync(Arguments a, int connections, TimeSpan timeout, CancellationToken ct)
    {
        var agents = a.String("agents");
        var setup = await PrepareLocalAsync(a, connections, timeout, ct).ConfigureAwait(false);
        if (agents is null)
        {
            return setup;
        }
        try
        {
            // Agents get everything from the coordinator: the scenario file's text and the data file's.
            var users = setup.DataPath is { } data ? await File.ReadAllTextAsync(data, ct).ConfigureAwait(false) : null;
            var ws = setup.Scenario is WsScenario ? a.Int("ws-clients", 0) : 0;
            setup.Agents = await Distributed.AgentPool.ConnectAsync(agents, new Distributed.SetupMessage(
                setup.Target.ToString(), setup.Scenario is WsScenario ? "ws" : null, setup.Scenario is UrlScenario ? setup.Target.ToString() : null,
                users, ws, connections, timeout.TotalMilliseconds)
            {
                ScenarioFile = setup.ScenarioText,
                UsersName = setup.DataPath is { } name ? Path.GetFileName(name) : null,
            }, ct, setup.Scenario.Endpoints).ConfigureAwait(false);
            return setup;
        }
        catch
        {
            await setup.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<Setup> PrepareLocalAsync(Arguments a, int connections, TimeSpan timeout, CancellationToken ct)
    {
        var url = a.String("url");
        var scenarioName = a.String("scenario");
        var scenarioPath = a.String("scenario-file");
        var usersFile = a.String("users-file");
        var noAudit = a.Flag("no-audit");
        var secret = Secret(a);
        var wsClients = a.Int("ws-clients", 0);
        var metrics = a.String("server-metrics");
        var targetGiven = a.Has("target");
        var target = Target(a);
        if ((url is null ? 0 : 1) + (scenarioName is null ? 0 : 1) + (scenarioPath is null ? 0 : 1) != 1)
        {
            throw new ArgumentException("give exactly one of --scenario NAME, --scenario-file FILE or --url URL");
        }
        if (url is not null)
        {
            var uri = new Uri(url);
            Http.EnsureLoopback(uri);
            return new Setup { Target = uri, Scenario = new UrlScenario(uri, HttpMethod.Get), Client = Http.CreateClient(connections, timeout), IsTally = false, MetricsUrl = MetricsUrl(metrics, uri) };
        }
        if (scenarioName == "ws")
        {
            return await PrepareWsAsync(target, usersFile ?? "users.json", wsClients, noAudit, secret, metrics, connections, timeout, ct).ConfigureAwait(false);
        }
        // Every other scenario is a file: one shipped with the tool, or the user's own.
        var file = scenarioPath is not null ? ScenarioFiles.ScenarioFile.Load(scenarioPath) : ScenarioFiles.ScenarioFile.LoadShipped(scenarioName!);
        if (!targetGiven && file.BaseUrl is { } baseUrl)
        {
            Http.EnsureLoopback(baseUrl);
            target = baseUrl;
        }
        var audit = file.AfterRun == ScenarioFiles.ScenarioFile.TallyAuditHook;
        if (audit && !noAudit && secret is null)
        {
            throw new ArgumentException($"{file.Name} ends with the audit: give --admin-secret (or TALLY_ADMIN_SECRET), or --no-audit");
        }
        // The file's data path is relative to the file (a shipped file's, to the current directory).
        var dataPath = usersFile ?? (file.DataFile is not { } d ? null
            : scenarioPath is null || Path.IsPathRooted(d) ? d : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(scenarioPath))!, d));
        var client = Http.CreateClient(connections, timeout);
        try
        {
            var scenario = await ScenarioFiles.FileScenario.CreateAsync(file, target, dataPath, client, ct).ConfigureAwait(false);
            return new Setup
            {
                Target = target, Scenario = scenario, Client = client, IsTally = audit, Secret = secret, Audit = !noAudit,
                MetricsUrl = MetricsUrl(metrics, target), ScenarioText = file.Text, DataPath = dataPath, Slo = file.Slo,
            };
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static async Task<Setup> PrepareWsAsync(Uri target, string usersFile, int wsClients, bool noAudit, string? secret, string? metrics, int connections, TimeSpan timeout, CancellationToken ct)
    {
        if (!noAudit && secret is null)
        {
            throw new ArgumentException("a run against Tally ends with the audit: give --admin-secret (or TALLY_ADMIN_SECRET), or --no-audit");
        }
        if (wsClients is 1 or < 0)
        {
            throw new ArgumentException("--ws-clients needs at least 2 (a transfer goes from one user to another)");
        }
        var users = await TallyApi.ReadUsersAsync(usersFile, ct).ConfigureAwait(false);
        var client = Http.CreateClient(connections, timeout);
        try
        {
            var sessions = await TallyApi.LoginAllAsync(client, target, users, 20, ct).ConfigureAwait(false);
            var ws = new WsScenario(target, users, sessions);
            await ws.ConnectAsync(target, wsClients > 0 ? wsClients : users.Count, ct).ConfigureAwait(false);
            return new Setup
            {
                Target = target, Scenario = ws, Client = client, IsTally = true, Secret = secret, Audit = !noAudit,
                MetricsUrl = MetricsUrl(metrics, target), DataPath = usersFile,
            };
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static Uri? MetricsUrl(string? option, Uri target)
    {
        if (option is "off" or "none")
        {
            return null;
        }
        var url = option is null ? new Uri(target, "/metrics") : new Uri(option);
        Http.EnsureLoopback(url);
        return url;
    }

    private static async Task<int> RunCommandAsync(Arguments a, IAnsiConsole console, CancellationToken ct)
    {
        var vus = a.Has("vus") ? a.Int("vus", 10) : (int?)null;
        var rate = a.Has("rate") ? a.Double("rate", 100) : (double?)null;
        var stages = a.String("stages");
        var duration = a.Duration("duration", TimeSpan.FromSeconds(30));
        var think = a.Duration("think", TimeSpan.Zero);
        var timeout = a.Duration("timeout", TimeSpan.FromSeconds(10));
        var maxVus = a.Int("max-vus", 256);
        var maxRequests = (long)a.Double("max-requests", 50_000_000);
        var maxBacklog = a.Int("max-backlog", 100_000);
        var slo = a.String("slo") is { } sloText ? Slo.Parse(sloText) : null;
        var abort = a.Flag("abort-on-fail");
        var json = a.String("json");
        var html = a.String("html");
        var quiet = a.Flag("quiet");
        var open = a.Flag("open");
        if (vus is not null && rate is not null)
        {
            throw new ArgumentException("--vus (closed model) and --rate (open model) exclude each other");
        }
        if (maxBacklog < 1)
        {
            throw new ArgumentException("--max-backlog must be at least 1");
        }
        var model = rate is not null || (vus is null && open) ? WorkloadModel.Open : WorkloadModel.Closed;
        var profile = stages is not null
            ? LoadProfile.ParseStages(stages)
            : LoadProfile.Constant(model == WorkloadModel.Open ? rate ?? 100 : vus ?? 10, duration);
        var connections = model == WorkloadModel.Open ? maxVus : (int)Math.Ceiling(profile.MaxTarget);
        await using var setup = await PrepareAsync(a, connections, timeout, ct).ConfigureAwait(false);
        a.EnsureAllUsed();
        slo ??= setup.Slo;
        await using var sampler = ServerMetricsSampler.StartFor(setup.MetricsUrl);
        var runStart = sampler?.Now ?? 0;
        var started = DateTimeOffset.UtcNow;
        Metrics? measured = null;
        var result = await WithLiveViewAsync(console, quiet, $"{setup.Scenario.Name} · {model.ToString().ToLowerInvariant()}",
            async tick =>
            {
                (var r, measured) = await RunEngineAsync(setup, new EngineOptions
                {
                    Model = model, Profile = profile, MaxVus = maxVus, Think = think, Timeout = timeout, MaxRequests = maxRequests,
                    MaxBacklog = maxBacklog, Slo = slo, AbortOnFail = abort, OnTick = tick,
                }, ct).ConfigureAwait(false);
                return r;
            }).ConfigureAwait(false);
        // The engine stops at Ctrl+C with what it measured; the audit and the reports still run.
        var interrupted = ct.IsCancellationRequested;
        var finish = interrupted ? CancellationToken.None : ct;
        var (serverSamples, server) = ServerDuring(sampler, runStart, sampler?.Now ?? 0);
        var verdicts = slo?.Evaluate(result.Summary) ?? [];
        var audit = await AuditIfNeededAsync(setup, console, finish).ConfigureAwait(false);
        var report = new RunReport
        {
            Command = "run", Target = setup.Target.ToString(), Scenario = setup.Scenario.Name, Model = model.ToString().ToLowerInvariant(),
            StartedAt = started, Summary = result.Summary, Series = result.Series, PerSecond = measured!.PerSecond(result.Summary.DurationSeconds), Agents = result.Agents,
            GeneratorCpuPercent = result.GeneratorCpuPercent, GeneratorCpuMaxPercent = result.GeneratorCpuMaxPercent,
            Thresholds = verdicts, ThresholdsPassed = verdicts.All(v => v.Pass), Aborted = result.Aborted || interrupted,
            AbortReason = interrupted ? "interrupted (Ctrl+C)" : result.AbortReason, Audit = audit,
            ServerMetrics = serverSamples, Server = server,
        };
        report.ExitCode = audit is { Passed: false } ? ExitCodes.AuditFailed
            : report.Aborted ? ExitCodes.Aborted
            : !report.ThresholdsPassed ? ExitCodes.SloBreached : ExitCodes.Ok;
        PrintSummary(console, report);
        await WriteOutputsAsync(console, report, json, html, finish).ConfigureAwait(false);
        return report.ExitCode;
    }

    /// <summary>The server's samples between two sampler times, re-timed from <paramref name="from"/>, and their summary.</summary>
    private static (IReadOnlyList<ServerSample> Samples, ServerSummary? Summary) ServerDuring(ServerMetricsSampler? sampler, double from, double to)
    {
        if (sampler is null)
        {
            return ([], null);
        }
        var samples = sampler.Samples.Where(x => x.T >= from && x.T <= to + 1).Select(x => x with { T = Math.Round(x.T - from, 3) }).ToList();
        return (samples, sampler.Summarize(from, to + 1));
    }

    private static async Task<AuditResult?> AuditIfNeededAsync(Setup setup, IAnsiConsole console, CancellationToken ct)
    {
        if (!setup.IsTally || !setup.Audit)
        {
            return null;
        }
        var audit = await TallyApi.AuditAsync(setup.Client, setup.Target, setup.Secret!, ct).ConfigureAwait(false);
        PrintAudit(console, audit);
        return audit;
    }

    private static async Task<int> CapacityAsync(Arguments a, IAnsiConsole console, CancellationToken ct)
    {
        var vusMode = a.Has("vus");
        var start = vusMode ? a.Int("vus", 10) : a.Double("start", 50);
        var think = a.Duration("think", TimeSpan.FromSeconds(vusMode ? 0 : 1));
        var timeout = a.Duration("timeout", TimeSpan.FromSeconds(10));
        var maxVus = a.Int("max-vus", 256);
        var search = SearchSettings.Read(a, vusMode, start, think, timeout, maxVus);
        var json = a.String("json");
        var html = a.String("html");
        var quiet = a.Flag("quiet");
        var connections = vusMode ? (int)Math.Min(search.Max, 10_000) : maxVus;
        await using var setup = await PrepareAsync(a, connections, timeout, ct).ConfigureAwait(false);
        a.EnsureAllUsed();
        search = search.WithFileSlo(a, setup.Slo);
        await using var sampler = ServerMetricsSampler.StartFor(setup.MetricsUrl);
        var searchStart = sampler?.Now ?? 0;
        var started = DateTimeOffset.UtcNow;
        var capacity = await SearchCapacityAsync(setup, sampler, search, console, quiet, ct).ConfigureAwait(false);
        // After Ctrl+C the audit and the reports still run, over the steps completed before it.
        var finish = capacity.Interrupted ? CancellationToken.None : ct;
        var (serverSamples, serverSummary) = ServerDuring(sampler, searchStart, sampler?.Now ?? 0);
        var audit = await AuditIfNeededAsync(setup, console, finish).ConfigureAwait(false);
        var report = new RunReport
        {
            Command = "capacity", Target = setup.Target.ToString(), Scenario = setup.Scenario.Name, Model = vusMode ? "closed" : "open",
            StartedAt = started, Capacity = capacity, Audit = audit, Thresholds = [], ThresholdsPassed = capacity.Knee is not null,
            Aborted = capacity.Interrupted, AbortReason = capacity.Interrupted ? "interrupted (Ctrl+C)" : null,
            Slo = search.Slo.Text, ServerMetrics = serverSamples, Server = serverSummary,
        };
        report.ExitCode = audit is { Passed: false } ? ExitCodes.AuditFailed
            : capacity.Interrupted ? ExitCodes.Aborted
            : capacity.Knee is null ? ExitCodes.SloBreached : ExitCodes.Ok;
        PrintCapacity(console, capacity, search);
        await WriteOutputsAsync(console, report, json, html, finish).ConfigureAwait(false);
        return report.ExitCode;
    }

    /// <summary>The options of a capacity search, shared by capacity and stress.</summary>
    private sealed record SearchSettings(
        bool VusMode, double Start, double Factor, double Max, TimeSpan Warmup, TimeSpan Window, TimeSpan Think,
        double Precision, int MaxSteps, TimeSpan Cooldown, TimeSpan Timeout, int MaxVus, Slo Slo)
    {
        public static SearchSettings Read(Arguments a, bool vusMode, double start, TimeSpan think, TimeSpan timeout, int maxVus) => new(
            vusMode, start, a.Double("factor", 2), a.Double("max", vusMode ? 10_000 : 100_000),
            a.Duration("warmup", TimeSpan.FromSeconds(2)), a.Duration("step", TimeSpan.FromSeconds(10)), think,
            a.Double("precision", 0.05), a.Int("max-steps", 20), a.Duration("cooldown", TimeSpan.FromSeconds(1)), timeout, maxVus,
            Slo.Parse(a.String("slo", "p95<300ms,errors<1%")));

        /// <summary>The scenario file's SLO replaces the default one, never one given with --slo.</summary>
        public SearchSettings WithFileSlo(Arguments a, Slo? fromFile) => fromFile is null || a.Has("slo") ? this : this with { Slo = fromFile };
    }

    private static async Task<CapacityResult> SearchCapacityAsync(Setup setup, ServerMetricsSampler? sampler, SearchSettings o, IAnsiConsole console, bool quiet, CancellationToken ct)
    {
        var vusMode = o.VusMode;
        async Task<CapacityStep> Step(int index, double load)
        {
            if (index > 0)
            {
                // Lets the server work off what an overloaded step left queued before the next is judged.
                await Task.Delay(o.Cooldown, ct).ConfigureAwait(false);
            }
            var options = new EngineOptions
            {
                Model = vusMode ? WorkloadModel.Closed : WorkloadModel.Open,
                Profile = LoadProfile.Constant(load, o.Warmup + o.Window),
                Warmup = o.Warmup, MaxVus = o.MaxVus, Think = vusMode ? o.Think : TimeSpan.Zero, Timeout = o.Timeout,
                // A short grace: a step that can't drain has failed anyway.
                Drain = TimeSpan.FromSeconds(1),
            };
            var stepStart = sampler?.Now ?? 0;
            var (r, _) = await RunEngineAsync(setup, options, ct).ConfigureAwait(false);
            // A step cut short by Ctrl+C measured too little to be judged: the search keeps the steps before it.
            ct.ThrowIfCancellationRequested();
            var s = r.Summary;
            // The server during the measuring window only (a sample covers the second before it).
            var server = sampler?.Summarize(stepStart + o.Warmup.TotalSeconds + 1, stepStart + o.Warmup.TotalSeconds + o.Window.TotalSeconds + 0.5);
            var failed = o.Slo.Evaluate(s).Where(v => !v.Pass).Select(v => $"{v.Expression} ({v.Actual:0.##})").ToList();
            if (!vusMode && s.SteadyRps < 0.99 * load)
            {
                failed.Add($"achieved {s.SteadyRps:0.#} < 99% of {load:0.#}");
            }
            if (s.Dropped > 0)
            {
                failed.Add($"{s.Dropped} dropped arrivals");
            }
            var step = new CapacityStep(index, Math.Round(load, 2), Math.Round(s.SteadyRps, 1), s.Latency.P50, s.Latency.P95, s.Latency.P99, s.Latency.Max, Math.Round(s.Latency.Mean, 3),
                Math.Round(s.ErrorRatePercent, 3), s.Dropped, failed.Count == 0, string.Join("; ", failed))
            {
                ServerCpuPercent = server?.CpuPercentMean,
                BusQueueDepthMax = server?.BusQueueDepthMax,
            };
            if (!quiet)
            {
                console.MarkupLineInterpolated(CultureInfo.InvariantCulture,
                    $"step {index,2}: {(vusMode ? "users" : "rate")} {load,9:0.#} → {s.SteadyRps,9:0.#} req/s  p95 {s.Latency.P95,8:0.##} ms  errors {s.ErrorRatePercent:0.##}%{(server?.CpuPercentMean is { } cpu ? $"  server CPU {cpu:0}%" : "")}  {(step.Pass ? "pass" : "FAIL")} {step.Reason}");
            }
            return step;
        }

        // Priming, not judged: opens the connections and warms both processes up (JIT, pools).
        await RunEngineAsync(setup, new EngineOptions
        {
            Model = vusMode ? WorkloadModel.Closed : WorkloadModel.Open, Profile = LoadProfile.Constant(o.Start, o.Warmup + o.Warmup),
            MaxVus = o.MaxVus, Think = vusMode ? o.Think : TimeSpan.Zero, Timeout = o.Timeout, Drain = TimeSpan.FromSeconds(1),
        }, ct).ConfigureAwait(false);
        try
        {
            await Task.Delay(o.Cooldown, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Interrupted while priming: the search below sees the cancellation and returns no steps.
        }
        return await CapacitySearch.SearchAsync(vusMode ? "vus" : "rate", Step, o.Start, o.Factor, o.Max, o.Precision, o.MaxSteps, vusMode, o.Think.TotalSeconds, ct).ConfigureAwait(false);
    }

    private static void PrintCapacity(IAnsiConsole console, CapacityResult capacity, SearchSettings o)
    {
        if (capacity.Knee is { } knee)
        {
            console.MarkupLineInterpolated(CultureInfo.InvariantCulture,
                $"capacity: [bold green]{capacity.MaxSustainableRps:0.#} req/s[/] within \"{o.Slo.Text}\"{(o.VusMode ? $" at {knee.Target:0} users" : "")}; concurrency (Little's law) {capacity.Concurrency:0.##}; ≈ {capacity.EquivalentUsers:0} users at {o.Think.TotalSeconds:0.##} s think time");
        }
        else if (!capacity.Interrupted)
        {
            console.MarkupLine("capacity: [red]not even the first step met the SLO[/]");
        }
        if (capacity.Interrupted)
        {
            console.MarkupLine($"[yellow]interrupted[/]: {capacity.Steps.Count} completed step(s) reported{(capacity.Knee is null ? "" : "; the capacity is at least the figure above")}; exit code {ExitCodes.Aborted}");
        }
    }

    private static async Task<EngineResult> WithLiveViewAsync(IAnsiConsole console, bool quiet, string title, Func<Action<LiveStatus>?, Task<EngineResult>> run)
    {
        if (quiet)
        {
            return await run(null).ConfigureAwait(false);
        }
        if (!console.Profile.Capabilities.Interactive)
        {
            return await run(s => console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{s.Elapsed,6:0}s/{s.Duration:0}s  rps {s.Last.Rps,8:0.#}  p95 {s.Total.Latency.P95,8:0.##} ms  errors {s.Total.Errors}  active {s.Last.Active}  dropped {s.Total.Dropped}  cpu {s.Last.GeneratorCpuPercent:0}%"))).ConfigureAwait(false);
        }
        var table = new Table().Border(TableBorder.Rounded).Title(title);
        foreach (var c in new[] { "elapsed", "rps", "p50", "p95", "p99", "errors", "active", "dropped", "cpu" })
        {
            table.AddColumn(new TableColumn(c).RightAligned());
        }
        table.AddRow("-", "-", "-", "-", "-", "-", "-", "-", "-");
        EngineResult? result = null;
        await console.Live(table).StartAsync(async ctx =>
        {
            result = await run(s =>
            {
                table.UpdateCell(0, 0, $"{s.Elapsed:0}/{s.Duration:0} s");
                table.UpdateCell(0, 1, $"{s.Last.Rps:0.#}");
                table.UpdateCell(0, 2, $"{s.Total.Latency.P50:0.##} ms");
                table.UpdateCell(0, 3, $"{s.Total.Latency.P95:0.##} ms");
                table.UpdateCell(0, 4, $"{s.Total.Latency.P99:0.##} ms");
                table.UpdateCell(0, 5, $"{s.Total.Errors} ({s.Total.ErrorRatePercent:0.##}%)");
                table.UpdateCell(0, 6, $"{s.Last.Active}");
                table.UpdateCell(0, 7, $"{s.Total.Dropped}");
                table.UpdateCell(0, 8, $"{s.Last.GeneratorCpuPercent:0}%");
                ctx.Refresh();
            }).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return result!;
    }

    private static void PrintSummary(IAnsiConsole console, RunReport r)
    {
        var s = r.Summary!;
        var table = new Table().Border(TableBorder.Simple);
        foreach (var c in new[] { "endpoint", "requests", "errors", "p50", "p90", "p95", "p99", "p99.9", "max" })
        {
            table.AddColumn(c);
        }
        static string Ms(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        foreach (var e in s.Endpoints)
        {
            table.AddRow(Markup.Escape(e.Name), $"{e.Requests}", $"{e.Errors}", Ms(e.Latency.P50), Ms(e.Latency.P90), Ms(e.Latency.P95), Ms(e.Latency.P99), Ms(e.Latency.P999), Ms(e.Latency.Max));
        }
        table.AddRow("[bold]all[/]", $"{s.Requests}", $"{s.Errors}", Ms(s.Latency.P50), Ms(s.Latency.P90), Ms(s.Latency.P95), Ms(s.Latency.P99), Ms(s.Latency.P999), Ms(s.Latency.Max));
        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{s.Rps:0.#} req/s over {s.DurationSeconds:0.#} s · errors {s.ErrorRatePercent:0.###}% · dropped arrivals {s.Dropped} · generator CPU {r.GeneratorCpuPercent:0.#}% (max {r.GeneratorCpuMaxPercent:0.#}%) · latencies in ms"));
        foreach (var g in r.Agents)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  generator {g.Address} (share {g.Partition}): {g.Requests} requests ({g.SharePercent:0.#}% of the run) · its CPU {g.CpuPercent:0.#}% (max {g.CpuMaxPercent:0.#}%)"));
        }
        if (r.Server is { } server)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"server ({server.Url}, {server.Samples} samples): CPU {server.CpuPercentMean:0.#}% (max {server.CpuPercentMax:0.#}%) · bus queue depth max {server.BusQueueDepthMax:0} · thread-pool queue max {server.ThreadPoolQueueMax:0} · working set max {server.WorkingSetMbMax:0.#} MB"));
        }
        foreach (var (kind, count) in s.ErrorsByKind.OrderByDescending(k => k.Value))
        {
            console.MarkupLineInterpolated($"  error [yellow]{kind}[/]: {count}");
        }
        foreach (var v in r.Thresholds)
        {
            console.MarkupLine(v.Pass
                ? $"  threshold {Markup.Escape(v.Expression)}: actual {v.Actual.ToString("0.###", CultureInfo.InvariantCulture)} [green]pass[/]"
                : $"  threshold {Markup.Escape(v.Expression)}: actual {v.Actual.ToString("0.###", CultureInfo.InvariantCulture)} [red]BREACHED[/]");
        }
        if (r.Aborted)
        {
            console.MarkupLineInterpolated($"[red]aborted early[/]: {r.AbortReason}");
        }
        else if (!r.ThresholdsPassed)
        {
            console.MarkupLineInterpolated($"[red]thresholds breached[/]: exit code {ExitCodes.SloBreached}");
        }
    }

    private static async Task WriteOutputsAsync(IAnsiConsole console, RunReport report, string? json, string? html, CancellationToken ct)
    {
        if (json is not null)
        {
            await report.WriteJsonAsync(json, ct).ConfigureAwait(false);
            console.WriteLine($"result: {json}");
        }
        if (html is not null)
        {
            await File.WriteAllTextAsync(html, HtmlReport.Render(report), ct).ConfigureAwait(false);
            console.WriteLine($"report: {html}");
        }
    }
}
