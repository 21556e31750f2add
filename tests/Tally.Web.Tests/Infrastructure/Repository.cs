using Tally.Testing;

namespace Tally.Web.Tests.Infrastructure;

internal static class Repository
{
    /// <summary>The build configuration of these tests; the servers they start come from the same one.</summary>
    public static string Configuration => ServerProcess.Configuration;

    public static string Root => ServerProcess.RepoRoot;

    public static string ScreenshotsFolder
    {
        get
        {
            var folder = Path.Combine(Root, "artifacts", "screenshots");
            Directory.CreateDirectory(folder);
            return folder;
        }
    }
}
