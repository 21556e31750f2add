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

    public sealed record Run(int ExitCode, string Output, string Error);

    /// <summary>Runs a command to its end (killed past <paramref name="timeout"/>), capturing stdout and stderr apart.</summary>
    public static async Task<Run> RunAsync(string file, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // No usage reports or update checks from the tools: a test run talks to nothing but the registry it installs from.
        start.Environment["REDOCLY_TELEMETRY"] = "off";
        start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        start.Environment["SCARF_ANALYTICS"] = "false";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (error) { error.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', arguments)} did not finish within {timeout}:\n{output}\n{error}");
        }
        process.WaitForExit();
        return new Run(process.ExitCode, output.ToString(), error.ToString());
    }

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
