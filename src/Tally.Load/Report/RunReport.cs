using System.Text.Json.Serialization;
using Tally.Load.Capacity;
using Tally.Load.Stress;

namespace Tally.Load.Report;

/// <summary>Everything a run or capacity search produced: the JSON result file and the HTML report come from this.</summary>
public sealed class RunReport
{
    public string Tool { get; init; } = "tally-load";
    public required string Command { get; init; }
    public required string Target { get; init; }
    public required string Scenario { get; init; }
    public required string Model { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public Summary? Summary { get; init; }
    public IReadOnlyList<Sample> Series { get; init; } = [];
    /// <summary>The measuring window's one-second slices per endpoint (run and stress); absent in files written before compare.</summary>
    public PerSecond? PerSecond { get; init; }
    public double GeneratorCpuPercent { get; init; }
    public double GeneratorCpuMaxPercent { get; init; }
    /// <summary>With --agents: each generator's share of the run (the coordinator's first) and its own CPU.</summary>
    public IReadOnlyList<AgentShare> Agents { get; init; } = [];
    public IReadOnlyList<SloVerdict> Thresholds { get; init; } = [];
    public bool ThresholdsPassed { get; init; } = true;
    public bool Aborted { get; init; }
    public string? AbortReason { get; init; }
    public AuditResult? Audit { get; init; }
    public CapacityResult? Capacity { get; init; }
    /// <summary>The SLO a capacity search judged each step against.</summary>
    public string? Slo { get; init; }
    /// <summary>The server's /metrics, read every second during the run (empty when not reachable).</summary>
    public IReadOnlyList<ServerSample> ServerMetrics { get; init; } = [];
    public ServerSummary? Server { get; init; }
    /// <summary>The stress command's phases and expectations.</summary>
    public StressResult? Stress { get; init; }
    public int ExitCode { get; set; }

    internal static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public async Task WriteJsonAsync(string path, CancellationToken ct)
    {
        await using var stream = File.Create(path);
        await JsonSerializer.SerializeAsync(stream, this, Options, ct).ConfigureAwait(false);
    }
}
