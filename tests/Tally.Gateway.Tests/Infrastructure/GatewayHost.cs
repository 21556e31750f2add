using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Tally.Gateway.Observability;
using Yarp.ReverseProxy;

namespace Tally.Gateway.Tests.Infrastructure;

/// <summary>The real gateway (its Program) on Kestrel, on a free loopback port, with the given settings.</summary>
internal sealed class GatewayHost : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string> _settings;

    private readonly X509Certificate2? _certificate;

    private GatewayHost(Dictionary<string, string> settings, X509Certificate2? certificate)
    {
        _settings = settings;
        _certificate = certificate;
        if (certificate is null)
        {
            UseKestrel(0);
        }
        else
        {
            UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
        }
    }

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Starts a gateway in front of <paramref name="backends"/>; fast active probes unless overridden.</summary>
    public static GatewayHost Start(IEnumerable<Uri> backends, IDictionary<string, string>? settings = null, X509Certificate2? httpsCertificate = null)
    {
        var all = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Gateway:HealthChecks:ActiveInterval"] = "00:00:00.200",
            ["Gateway:HealthChecks:ActiveTimeout"] = "00:00:02",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        var i = 0;
        foreach (var backend in backends)
        {
            all[$"Gateway:Backends:{i++}"] = backend.ToString().TrimEnd('/');
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }
        var host = new GatewayHost(all, httpsCertificate);
        host.StartServer();
        using var client = host.CreateClient();
        host.BaseUrl = client.BaseAddress!;
        return host;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

    /// <summary>A plain client to the gateway (no cookies, no redirects), like an API client.</summary>
    public HttpClient Client() => new(new SocketsHttpHandler
    {
        UseCookies = false,
        AllowAutoRedirect = false,
        // The gateway's tracer listens in this process too: the client must not stamp its own traceparent.
        ActivityHeadersPropagator = null,
        // Over HTTPS the gateway presents the test's own self-signed certificate.
        SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => _certificate is not null && certificate is not null && certificate.GetCertHashString() == _certificate.GetCertHashString() },
    })
    {
        BaseAddress = BaseUrl,
        Timeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>Polls until the gateway's /ready answers 200 (bounded).</summary>
    public async Task WaitUntilReadyAsync(TimeSpan? limit = null)
    {
        using var client = Client();
        await Eventually.HoldsAsync(async () =>
        {
            using var response = await client.GetAsync(new Uri("/ready", UriKind.Relative));
            return response.IsSuccessStatusCode;
        }, limit ?? TimeSpan.FromSeconds(30), "the gateway never became ready");
    }

    /// <summary>Whether the gateway currently routes to <paramref name="backend"/>, from YARP's own state (not the cached scrape).</summary>
    public bool InPool(Uri backend)
    {
        var address = backend.ToString().TrimEnd('/');
        var lookup = Services.GetRequiredService<IProxyStateLookup>();
        var destination = lookup.GetClusters().SelectMany(c => c.Destinations.Values).Single(d => d.Model.Config.Address == address);
        return GatewayMetrics.IsInPool(destination);
    }

    /// <summary>The value of the upstream health gauge for one backend address, from /metrics.</summary>
    public async Task<int?> UpstreamHealthyAsync(Uri backend)
    {
        using var client = Client();
        var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var address = backend.ToString().TrimEnd('/');
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("tally_gateway_upstream_healthy{", StringComparison.Ordinal) && line.Contains($"address=\"{address}\"", StringComparison.Ordinal))
            {
                return int.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return null;
    }
}
