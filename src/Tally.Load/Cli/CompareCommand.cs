using Spectre.Console;
using Tally.Load.Compare;
using Tally.Load.Report;

namespace Tally.Load.Cli;

public static partial class App
{
    /// <summary>compare: two result files figure by figure, with a bootstrap interval and a verdict per figure; --fail-on sets exit code 3.</summary>
    private static async Task<int> CompareAsync(Arguments a, IAnsiConsole console, CancellationToken ct)
    {
        var rules = a.String("fail-on") is { } failOn ? FailRule.ParseList(failOn) : [];
        var noise = ParsePercent(a.String("noise", "2%"), "--noise");
        var json = a.String("json");
        var html = a.String("html");
        a.EnsureAllUsed();
        if (a.Positionals.Count != 2)
        {
            throw new ArgumentException("compare takes two result files: tally-load compare BASE.json CANDIDATE.json");
        }
        var (basePath, candidatePath) = (a.Positionals[0], a.Positionals[1]);
        var b = ResultFile.Load(basePath);
        var c = ResultFile.Load(candidatePath);
        var result = new Comparison { NoisePercent = noise }.Compare(basePath, b, candidatePath, c);
        result.FailOn = [.. rules.Select(r =>
        {
            var breaches = result.Rows.Where(r.IsBreachedBy).Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Endpoint} {x.Figure} {x.ChangePercent:+0.#;-0.#;0}%")).ToList();
            return new RuleResult(r.Text, breaches.Count > 0, breaches);
        })];
        result.ExitCode = result.FailOn.Any(r => r.Breached) ? ExitCodes.SloBreached : ExitCodes.Ok;
        PrintComparison(console, result, b, c);
        if (json is not null)
        {
            await using (var stream = File.Create(json))
            {
                await JsonSerializer.SerializeAsync(stream, result, RunReport.Options, ct).ConfigureAwait(false);
            }
            console.WriteLine($"result: {json}");
        }
        if (html is not null)
        {
            await File.WriteAllTextAsync(html, CompareHtml.Render(result, b, c), ct).ConfigureAwait(false);
            console.WriteLine($"report: {html}");
        }
        return result.ExitCode;
    }

    private static double ParsePercent(string text, string option)
    {
        if (!double.TryParse(text.TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v) || v < 0)
        {
            throw new ArgumentException($"{option} '{text}' is not a percentage (e.g. 2%)");
        }
        return v;
    }

    internal static string Figure(string figure, double v) =>
        !double.IsFinite(v) ? "–" : figure == "rps" ? v.ToString("0.#", CultureInfo.InvariantCulture) : v.ToString("0.##", CultureInfo.InvariantCulture) + " ms";

    internal static string Change(double? v) => v is { } x ? x.ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + "%" : "–";

    private static void PrintComparison(IAnsiConsole console, ComparisonResult r, ResultFile b, ResultFile c)
    {
        console.WriteLine($"base      {r.BaseFile}: {b.Command} {b.Scenario} {b.Model}, {b.Summary!.Requests} requests over {b.Summary.DurationSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s, started {b.StartedAt:u}");
        console.WriteLine($"candidate {r.CandidateFile}: {c.Command} {c.Scenario} {c.Model}, {c.Summary!.Requests} requests over {c.Summary.DurationSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s, started {c.StartedAt:u}");
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn("endpoint");
        table.AddColumn("figure");
        foreach (var column in new[] { "base", "candidate", "change", "interval" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }
        table.AddColumn("verdict");
        string? last = null;
        foreach (var row in r.Rows)
        {
            var verdict = row.Verdict switch
            {
                Verdict.Better => "[green]better[/]",
                Verdict.Worse => "[red]worse[/]",
                Verdict.NoInterval => $"no interval ({Markup.Escape(row.Note ?? "")})",
                _ => row.Verdict.Label(),
            };
            table.AddRow(row.Endpoint == last ? "" : Markup.Escape(row.Endpoint), row.Figure, Figure(row.Figure, row.Base), Figure(row.Figure, row.Candidate),
                Change(row.ChangePercent), row.LowPercent is { } low ? $"{Change(low)} … {Change(row.HighPercent)}" : "–", verdict);
            last = row.Endpoint;
        }
        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"intervals: {r.Confidence * 100:0.##}% for all {r.Rows.Count} figures together (each at {r.FigureConfidence * 100:0.##}%), bootstrap over one-second slices, {r.Resamples} resamples, seed {r.Seed}; changes within ±{r.NoisePercent:0.##}% count as noise"));
        foreach (var name in r.OnlyInBase)
        {
            console.MarkupLineInterpolated($"  only in base: {name}");
        }
        foreach (var name in r.OnlyInCandidate)
        {
            console.MarkupLineInterpolated($"  only in candidate: {name}");
        }
        foreach (var rule in r.FailOn)
        {
            console.MarkupLine(rule.Breached
                ? $"  fail-on {Markup.Escape(rule.Rule)}: [red]BREACHED[/] by {Markup.Escape(string.Join(", ", rule.Breaches))}"
                : $"  fail-on {Markup.Escape(rule.Rule)}: [green]pass[/]");
        }
        if (r.ExitCode == ExitCodes.SloBreached)
        {
            console.MarkupLineInterpolated($"[red]regression beyond --fail-on[/]: exit code {ExitCodes.SloBreached}");
        }
    }
}
