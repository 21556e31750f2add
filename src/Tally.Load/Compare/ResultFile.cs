using Tally.Load.Report;

namespace Tally.Load.Compare;

/// <summary>
/// What compare reads from a result file that run, capacity or stress wrote with --json. Every
/// field is optional, so that files written before per_second existed still load.
/// </summary>
public sealed class ResultFile
{
    public string Command { get; init; } = "";
    public string Target { get; init; } = "";
    public string Scenario { get; init; } = "";
    public string Model { get; init; } = "";
    public DateTimeOffset StartedAt { get; init; }
    public ResultSummary? Summary { get; init; }
    public IReadOnlyList<SeriesPoint> Series { get; init; } = [];
    public PerSecond? PerSecond { get; init; }

    /// <summary>Reads a result file; a missing, unreadable or foreign file is a bad argument.</summary>
    public static ResultFile Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ArgumentException($"{path}: no such file");
        }
        ResultFile? file;
        try
        {
            file = JsonSerializer.Deserialize<ResultFile>(File.ReadAllText(path), RunReport.Options);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{path}: not a tally-load result ({e.Message})", e);
        }
        if (file?.Summary is not { DurationSeconds: > 0 })
        {
            throw new ArgumentException($"{path}: not a tally-load result with a summary (write one with run or stress --json)");
        }
        return file;
    }
}

public sealed class ResultSummary
{
    public double DurationSeconds { get; init; }
    public long Requests { get; init; }
    public long Errors { get; init; }
    public long CompletedInWindow { get; init; }
    public LatencyStats Latency { get; init; } = new();
    public IReadOnlyList<ResultEndpoint> Endpoints { get; init; } = [];
}

public sealed class ResultEndpoint
{
    public string Name { get; init; } = "";
    public long Requests { get; init; }
    public long Errors { get; init; }
    public LatencyStats Latency { get; init; } = new();
}

/// <summary>One second of a run's <c>series</c>: the overall figures, which files without per_second still have (no p95).</summary>
public sealed class SeriesPoint
{
    public double T { get; init; }
    public double Rps { get; init; }
    public double P50 { get; init; }
    public double P90 { get; init; }
    public double P99 { get; init; }
}
