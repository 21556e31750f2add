using Tally.Testing;

namespace Tally.Gateway.Tests.Infrastructure;

/// <summary>
/// The real Tally, embedded mode, as a child process from the same build configuration as these tests, on a
/// loopback port, with its data in a temporary folder. <see cref="ServerProcess.KillAsync"/> is a SIGKILL, as a
/// crashed machine would be.
/// </summary>
internal static class TallyProcess
{
    public const string AdminSecret = "gateway-e2e-secret";

    public static int FreePort() => ServerProcess.FreePort();

    public static Task<ServerProcess> StartAsync(string dataDirectory, int? port = null) =>
        ServerProcess.StartEmbeddedTallyAsync(dataDirectory, AdminSecret, port);
}
