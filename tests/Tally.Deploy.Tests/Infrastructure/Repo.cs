using Tally.Testing;

namespace Tally.Deploy.Tests.Infrastructure;

/// <summary>Paths in the repository, and running its command-line tools with a bound on time.</summary>
internal static class Repo
{
    public static string Root => ServerProcess.RepoRoot;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static Task<CommandResult> RunAsync(string file, IEnumerable<string> arguments, string? workingDirectory = null, TimeSpan? timeout = null) =>
        Command.RunAsync(file, arguments, workingDirectory ?? Root, timeout);

    /// <summary>`kubectl kustomize` of a folder under deploy/k8s, offline.</summary>
    public static async Task<string> KustomizeAsync(string folder)
    {
        var result = await RunAsync("kubectl", ["kustomize", PathOf("deploy", "k8s", folder)]);
        Assert.True(result.ExitCode == 0, $"kubectl kustomize {folder} failed:\n{result.Error}");
        Assert.False(string.IsNullOrWhiteSpace(result.Output));
        return result.Output;
    }

    private static readonly SemaphoreSlim s_npm = new(1, 1);

    /// <summary>Installs deploy/validate's pinned npm packages (package-lock.json) with `npm ci`, again whenever the lock changes; returns the folder.</summary>
    public static async Task<string> ValidatorsAsync()
    {
        var folder = PathOf("deploy", "validate");
        await s_npm.WaitAsync();
        try
        {
            var lockHash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(folder, "package-lock.json"))));
            var stamp = Path.Combine(folder, "node_modules", ".tally-lock-sha256");
            if (!File.Exists(stamp) || await File.ReadAllTextAsync(stamp) != lockHash)
            {
                var install = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], folder, TimeSpan.FromMinutes(8));
                Assert.True(install.ExitCode == 0, "npm ci failed:\n" + install.All);
                await File.WriteAllTextAsync(stamp, lockHash);
            }
        }
        finally
        {
            s_npm.Release();
        }
        return folder;
    }

    /// <summary>Asserts that a validator refused its input (exit 1) and said each of <paramref name="messages"/>.</summary>
    public static void AssertRefused(CommandResult result, params string[] messages)
    {
        ArgumentNullException.ThrowIfNull(result);
        Assert.Equal(1, result.ExitCode);
        Assert.All(messages, message => Assert.Contains(message, result.Output, StringComparison.Ordinal));
    }

    public static async Task<CommandResult> LintDockerfileAsync(string path) =>
        await RunAsync("node", [Path.Combine(await ValidatorsAsync(), "dockerfile.mjs"), path]);

    public static async Task<CommandResult> ValidateSchemasAsync(string yaml)
    {
        var validator = Path.Combine(await ValidatorsAsync(), "k8s.mjs");
        var file = Path.Combine(Path.GetTempPath(), $"tally-k8s-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml, Encoding.UTF8);
        try
        {
            return await RunAsync("node", [validator, file]);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
