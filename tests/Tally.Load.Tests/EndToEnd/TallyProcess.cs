using Tally.Testing;

namespace Tally.Load.Tests.EndToEnd;

/// <summary>The real Tally, embedded mode, as a child process on a free loopback port, with its data in a temporary folder.</summary>
internal static class TallyProcess
{
    public const string AdminSecret = "load-e2e-secret";

    public static Task<ServerProcess> StartAsync(string dataDirectory) => ServerProcess.StartEmbeddedTallyAsync(dataDirectory, AdminSecret);
}
