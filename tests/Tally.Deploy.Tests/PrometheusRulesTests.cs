using Tally.Testing;
using YamlDotNet.Serialization;

namespace Tally.Deploy.Tests;

/// <summary>deploy/prometheus: promtool checks the rules and unit-tests every alert on synthetic series, firing and not firing.</summary>
public sealed class PrometheusRulesTests
{
    private static string Rules => Repo.PathOf("deploy", "prometheus", "tally.rules.yml");

    private static string[] UnitTests => Directory.GetFiles(Repo.PathOf("deploy", "prometheus", "tests"), "*.test.yml").Order().ToArray();

    [Fact]
    public async Task Rules_PassPromtoolCheck()
    {
        var result = await Repo.RunAsync("promtool", ["check", "rules", Rules]);

        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("SUCCESS", result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Alerts_PassTheirUnitTests_FiringAndNotFiring()
    {
        Assert.Equal(["operations.test.yml", "overload.test.yml", "slo.test.yml"], UnitTests.Select(f => Path.GetFileName(f)).ToArray());

        var result = await Repo.RunAsync("promtool", ["test", "rules", .. UnitTests]);

        Assert.True(result.ExitCode == 0, result.All);
        Assert.DoesNotContain("FAILED", result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryAlert_IsUnitTestedFiringAndNotFiring_AndHasARunbookEntry()
    {
        var rules = await File.ReadAllTextAsync(Rules);
        var runbook = await File.ReadAllTextAsync(Repo.PathOf("docs", "operations.md"));
        var alerts = rules.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("- alert: ", StringComparison.Ordinal)).Select(l => l["- alert: ".Length..]).ToList();
        var firing = new HashSet<string>();
        var silent = new HashSet<string>();
        var yaml = new DeserializerBuilder().Build();
        foreach (var file in UnitTests)
        {
            var document = yaml.Deserialize<Dictionary<string, object>>(await File.ReadAllTextAsync(file));
            foreach (var test in ((List<object>)document["tests"]).Cast<Dictionary<object, object>>())
            {
                foreach (var check in (test.GetValueOrDefault("alert_rule_test") as List<object> ?? []).Cast<Dictionary<object, object>>())
                {
                    var expected = check.GetValueOrDefault("exp_alerts") as List<object> ?? [];
                    (expected.Count > 0 ? firing : silent).Add((string)check["alertname"]);
                }
            }
        }

        Assert.True(alerts.Count >= 19, $"{alerts.Count} alerts");
        Assert.Contains("TallySheddingLoad", alerts);
        Assert.Contains("TallyGatewayPanic", alerts);
        Assert.All(alerts, alert =>
        {
            Assert.True(firing.Contains(alert), $"{alert} has no test where it fires");
            Assert.True(silent.Contains(alert), $"{alert} has no test where it stays silent");
            Assert.Contains($"### {alert}\n", runbook, StringComparison.Ordinal);
        });
        Assert.Empty(firing.Union(silent).Except(alerts));
    }

    [Fact]
    public async Task UnitTests_Fail_WhenTheFastBurnThresholdIsWrong()
    {
        // The alert tests can fail: with page thresholds of 50x instead of 14.4x and 6x, the 25% error case no longer pages.
        var broken = (await File.ReadAllTextAsync(Rules))
            .Replace("(14.4 * 0.01)", "(50 * 0.01)", StringComparison.Ordinal)
            .Replace("(6 * 0.01)", "(50 * 0.01)", StringComparison.Ordinal);

        var result = await RunRuleTestsAsync(broken, "slo.test.yml");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("alertname: TallyErrorBudgetBurnFast", result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OverloadUnitTests_Fail_WhenTheSheddingThresholdIsWrong()
    {
        // With 50% instead of 5%, a bulkhead refusing 20% no longer warns: the overload tests catch it.
        var rules = await File.ReadAllTextAsync(Rules);
        const string threshold = "expr: tally:admission_refused:ratio_rate5m > 0.05";
        Assert.Contains(threshold, rules, StringComparison.Ordinal);

        var result = await RunRuleTestsAsync(rules.Replace(threshold, "expr: tally:admission_refused:ratio_rate5m > 0.5", StringComparison.Ordinal), "overload.test.yml");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("alertname: TallySheddingLoad", result.All, StringComparison.Ordinal);
    }

    /// <summary>Runs one of the repository's rule tests with promtool against <paramref name="rules"/> instead of the real rules.</summary>
    private static async Task<CommandResult> RunRuleTestsAsync(string rules, string testFile)
    {
        var folder = Directory.CreateTempSubdirectory("tally-rules-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "tests"));
            await File.WriteAllTextAsync(Path.Combine(folder, "tally.rules.yml"), rules);
            var test = Path.Combine(folder, "tests", testFile);
            File.Copy(Repo.PathOf("deploy", "prometheus", "tests", testFile), test);
            return await Repo.RunAsync("promtool", ["test", "rules", test]);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task ComposePrometheusConfig_PassesPromtoolCheck()
    {
        var result = await Repo.RunAsync("promtool", ["check", "config", "--syntax-only", Repo.PathOf("deploy", "docker", "prometheus.yml")]);

        Assert.True(result.ExitCode == 0, result.All);
    }
}
