using System.Text.Json.Serialization;

namespace Tally.Load.Distributed;

/// <summary>
/// The coordinator and an agent talk over one TCP connection, one JSON message per line:
/// setup → ready (the agent has logged its users in), then per engine run (a run, each capacity
/// step) step → result, until the coordinator closes the connection. A connection that closes
/// before a step's result is an agent lost mid-run.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(SetupMessage), "setup")]
[JsonDerivedType(typeof(ReadyMessage), "ready")]
[JsonDerivedType(typeof(StepMessage), "step")]
[JsonDerivedType(typeof(ResultMessage), "result")]
[JsonDerivedType(typeof(ErrorMessage), "error")]
public abstract record AgentMessage;

/// <summary>What the agent prepares once: the target and scenario (or URL), the seeded users' file content, its connections.</summary>
public sealed record SetupMessage(string Target, string? Scenario, string? Url, string? Users, int WsClients, int Connections, double TimeoutMs) : AgentMessage
{
    /// <summary>A scenario file's text (shipped or the user's): the agent runs exactly the coordinator's file.</summary>
    public string? ScenarioFile { get; init; }

    /// <summary>The data file's name, whose extension (.json, .csv) says how to read <see cref="Users"/>.</summary>
    public string? UsersName { get; init; }
}

public sealed record ReadyMessage(string Scenario, IReadOnlyList<string> Endpoints) : AgentMessage;

/// <summary>One engine run: its options, and which share of it is the agent's.</summary>
public sealed record StepMessage(
    string Model, IReadOnlyList<double[]> Stages, int MaxVus, double ThinkMs, double TimeoutMs, double WarmupMs,
    long MaxRequests, int MaxBacklog, double DrainMs, int PartitionIndex, int PartitionCount) : AgentMessage
{
    /// <summary>A stress run: the agent sorts its requests into these phases and answers with them.</summary>
    public Stress.StressSetup? Stress { get; init; }

    public static StepMessage From(EngineOptions o, Partition share)
    {
        ArgumentNullException.ThrowIfNull(o);
        return new(o.Model == WorkloadModel.Open ? "open" : "closed", o.Profile.Stages, o.MaxVus, o.Think.TotalMilliseconds, o.Timeout.TotalMilliseconds,
            o.Warmup.TotalMilliseconds, o.MaxRequests, o.MaxBacklog, o.Drain.TotalMilliseconds, share.Index, share.Count);
    }

    public EngineOptions ToOptions() => new()
    {
        Model = Model == "open" ? WorkloadModel.Open : WorkloadModel.Closed,
        Profile = LoadProfile.FromStages(Stages),
        MaxVus = MaxVus,
        Think = TimeSpan.FromMilliseconds(ThinkMs),
        Timeout = TimeSpan.FromMilliseconds(TimeoutMs),
        Warmup = TimeSpan.FromMilliseconds(WarmupMs),
        MaxRequests = MaxRequests,
        MaxBacklog = MaxBacklog,
        Drain = TimeSpan.FromMilliseconds(DrainMs),
        Partition = new Partition(PartitionIndex, PartitionCount),
    };
}

/// <summary>An agent's share of an engine run, exactly: its histograms (<see cref="HistogramText"/>), its series with each second's histogram, its CPU.</summary>
public sealed record ResultMessage(
    MetricsState Metrics, IReadOnlyList<Sample> Series, IReadOnlyList<string> SeriesHistograms, double MeasuredSeconds,
    double GeneratorCpuPercent, double GeneratorCpuMaxPercent, long BacklogAtEnd, bool Aborted, string? AbortReason) : AgentMessage
{
    /// <summary>A stress run's phases as this agent recorded them.</summary>
    public IReadOnlyList<Stress.StressPhaseState>? Stress { get; init; }
}

public sealed record ErrorMessage(string Message) : AgentMessage;

/// <summary>Reads and writes the messages, one JSON line each.</summary>
public sealed class AgentChannel(Stream stream) : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly StreamReader _reader = new(stream, new UTF8Encoding(false), false, 64 * 1024, leaveOpen: true);
    private readonly SemaphoreSlim _writing = new(1, 1);

    public async Task SendAsync(AgentMessage message, CancellationToken cancellationToken)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(message, Json);
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(line, cancellationToken).ConfigureAwait(false);
            await stream.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>The next message, or null when the other side closed the connection.</summary>
    public async Task<AgentMessage?> ReceiveAsync(CancellationToken cancellationToken)
    {
        string? line;
        try
        {
            line = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
            return null;
        }
        if (line is null)
        {
            return null;
        }
        return JsonSerializer.Deserialize<AgentMessage>(line, Json) ?? throw new FormatException("an empty agent message");
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _writing.Dispose();
        await stream.DisposeAsync().ConfigureAwait(false);
    }
}
