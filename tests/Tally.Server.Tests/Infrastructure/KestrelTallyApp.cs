namespace Tally.Server.Tests.Infrastructure;

/// <summary>Tally on a real Kestrel listener (a loopback port), for clients that talk to it over sockets.</summary>
public sealed class KestrelTallyApp : EmbeddedTallyApp
{
    public KestrelTallyApp()
    {
        UseKestrel(0);
    }
}
