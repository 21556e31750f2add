namespace Tally.Server.Tests.OpenApi;

/// <summary>
/// The npm checkers pinned in tools/openapi (package.json and its lock), installed there by <c>npm ci</c> on first use
/// (node_modules is git-ignored). A tool that can't be installed fails the test that needs it.
/// </summary>
internal static class OpenApiTools
{
    private static readonly SemaphoreSlim InstallLock = new(1, 1);

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string ToolsDirectory => Path.Combine(RepoRoot, "tools", "openapi");

    /// <summary>Where a test writes the document it checks: artifacts/openapi/, git-ignored.</summary>
    public static string ArtifactPath(string fileName)
    {
        var directory = Path.Combine(RepoRoot, "artifacts", "openapi");
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, fileName);
    }

    /// <summary>The path of an installed tool's command, installing the pinned tools first when it is missing.</summary>
    public static async Task<string> CommandAsync(string name)
    {
        var command = Path.Combine(ToolsDirectory, "node_modules", ".bin", name);
        await InstallLock.WaitAsync();
        try
        {
            if (!File.Exists(command))
            {
                var install = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], ToolsDirectory, TimeSpan.FromMinutes(8));
                Assert.True(install.ExitCode == 0, $"npm ci in tools/openapi failed ({install.ExitCode}):\n{install.Output}");
            }
        }
        finally
        {
            InstallLock.Release();
        }
        Assert.True(File.Exists(command), $"{name} is not installed in {ToolsDirectory}");
        return command;
    }

    // No usage reports or update checks from the tools: a test run talks to nothing but the registry it installs from.
    private static readonly KeyValuePair<string, string>[] s_quiet =
    [
        new("REDOCLY_TELEMETRY", "off"),
        new("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true"),
        new("SCARF_ANALYTICS", "false"),
    ];

    /// <summary>Runs a command to its end (killed past <paramref name="timeout"/>), capturing stdout and stderr apart.</summary>
    public static Task<CommandResult> RunAsync(string file, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout) =>
        Command.RunAsync(file, arguments, workingDirectory, timeout, s_quiet);

    private static string FindRepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Tally.slnx")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("Tally.slnx is not above the test assembly");
    }
}
