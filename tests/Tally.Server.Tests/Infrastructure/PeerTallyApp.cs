using Microsoft.AspNetCore.Builder;

namespace Tally.Server.Tests.Infrastructure;

/// <summary>
/// Tally whose in-memory test server sees the TCP peer named by a test-only header, as Kestrel would; a request
/// without the header keeps the test server's own (no) address. For the per-IP limits behind a trusted proxy.
/// </summary>
public sealed class PeerTallyApp(params (string Key, string? Value)[] settings)
    : EmbeddedTallyApp(settings.ToDictionary(s => s.Key, s => s.Value))
{
    public const string PeerHeader = "X-Test-Peer";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddSingleton<IStartupFilter, PeerFilter>());
    }

    private sealed class PeerFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Headers.Remove(PeerHeader, out var peer))
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(peer.ToString());
                }
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
