using System.Text.RegularExpressions;
using Tally.Load.Capacity;
using Tally.Load.Engine;
using Tally.Load.Report;

namespace Tally.Load.Tests;

public sealed partial class ChartTests
{
    [GeneratedRegex("<polyline[^>]* points=\"([^\"]*)\"")]
    private static partial Regex Polyline();

    /// <summary>The x coordinates of every line drawn in the page, line by line.</summary>
    private static List<double[]> Lines(string html) =>
        [.. Polyline().Matches(html).Select(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => double.Parse(p.Split(',')[0], CultureInfo.InvariantCulture)).ToArray())];

    private static CapacityStep Step(int index, double target, double p95, bool pass) =>
        new(index, target, Math.Min(target, 320), p95 / 2, p95, p95 * 2, p95 * 3, p95 / 2, 0, 0, pass, pass ? "" : "limit");

    [Fact]
    public void CapacityReport_DrawsTheSteps_InTheOrderOfTheLoad_NotOfTheSearch()
    {
        // The search's order: up by doubling, then back down and up while bisecting.
        CapacityStep[] steps = [Step(0, 100, 20, true), Step(1, 200, 22, true), Step(2, 400, 900, false), Step(3, 400, 950, false),
            Step(4, 300, 30, true), Step(5, 350, 700, false), Step(6, 350, 720, false), Step(7, 325, 300, false), Step(8, 312.5, 40, true)];
        var report = new RunReport
        {
            Command = "capacity", Target = "http://127.0.0.1:1/", Scenario = "url", Model = "open", Slo = "p95<300ms",
            Capacity = new CapacityResult { Mode = "rate", Steps = steps, Knee = steps[8], FirstFail = steps[7], MaxSustainableRps = 312.5 },
            // Samples and server readings out of order too: every chart sorts its points.
            Series = [Sample(3), Sample(1), Sample(2)],
            ServerMetrics = [new ServerSample(2, 10, 100, 1, 1, 4, 0, 0), new ServerSample(1, 20, 100, 2, 2, 4, 0, 0), new ServerSample(3, 30, 100, 3, 3, 4, 0, 0)],
        };

        var lines = Lines(HtmlReport.Render(report));

        Assert.True(lines.Count >= 4, $"{lines.Count} lines");
        Assert.All(lines, xs => Assert.Equal(xs.Order(), xs));
        // The load-vs-latency chart comes first, with a point for every step.
        Assert.Equal(steps.Length, lines[0].Length);
    }

    [Fact]
    public void LineChart_JoinsPointsGivenOutOfOrder_FromLeftToRight()
    {
        var svg = Svg.LineChart("t", "x", "y", [new Series("s", "#000", [(3, 1), (1, 2), (2, 3), (0, 4)])]);

        var xs = Assert.Single(Lines(svg));

        Assert.Equal(xs.Order(), xs);
        Assert.Equal(4, xs.Length);
    }

    private static Sample Sample(double t) => new(t, 100, 0, 10, 20, 30, 40, 100, 0, 1, 0, 0, 5);
}
