using System.Diagnostics.Metrics;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Tally.Gateway.Observability;
using Tally.Gateway.Proxy;
using Tally.Gateway.Proxy.Health;
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
            // Many gateways and stubs share this process's thread pool, and other suites its cores: a standing
            // queue there is not one gateway's overload.
            ["Gateway:Limits:MaxQueueDelay"] = "00:00:01",
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

    /// <summary>Whether the gateway sends requests to <paramref name="backend"/> now (healthy, or in panic), from YARP's own state.</summary>
    public bool Routed(Uri backend)
    {
        var address = backend.ToString().TrimEnd('/');
        var cluster = Services.GetRequiredService<IProxyStateLookup>().GetClusters().Single();
        return cluster.DestinationsState.AvailableDestinations.Any(d => d.Model.Config.Address == address);
    }

    /// <summary>Whether the gateway routes in panic now, from its own state.</summary>
    public bool InPanic() => Services.GetRequiredService<UpstreamPool>().InPanic(GatewayProxyConfig.ClusterId);

    /// <summary>
    /// The current measurements of one of this gateway's gauges (<c>tally.gateway.panic</c>, ...), read from its own meter.
    /// Tests run several gateways in one process, and the Prometheus exporter of each sees every meter of the same name,
    /// so a scrape can show another gateway's series; the meter's scope (this host's meter factory) can't be mistaken.
    /// </summary>
    public IReadOnlyList<(double Value, IReadOnlyDictionary<string, object?> Tags)> Gauge(string instrument)
    {
        var factory = Services.GetRequiredService<IMeterFactory>();
        var measurements = new List<(double, IReadOnlyDictionary<string, object?>)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (published, l) =>
            {
                if (published.Name == instrument && ReferenceEquals(published.Meter.Scope, factory))
                {
                    l.EnableMeasurementEvents(published);
                }
            },
        };
        void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }
            measurements.Add((value, copy));
        }
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) => Record(value, tags));
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) => Record(value, tags));
        listener.Start();
        listener.RecordObservableInstruments();
        return measurements;
    }

    /// <summary>The slow-start weight the load balancer gives <paramref name="backend"/> now, from the gateway's own state.</summary>
    public double Weight(Uri backend)
    {
        var address = backend.ToString().TrimEnd('/');
        var lookup = Services.GetRequiredService<IProxyStateLookup>();
        var destination = lookup.GetClusters().SelectMany(c => c.Destinations.Values).Single(d => d.Model.Config.Address == address);
        return Services.GetRequiredService<UpstreamPool>().Weight(destination);
    }

    /// <summary>The value of an unlabelled-by-address gauge (such as <c>tally_gateway_panic</c>) from /metrics.</summary>
    public async Task<double?> GaugeAsync(string name)
    {
        using var client = Client();
        var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return null;
    }

    /// <summary>The value of the upstream health gauge for one backend address, from /metrics.</summary>
    public async Task<int?> UpstreamHealthyAsync(Uri backend) => (int?)await UpstreamGaugeAsync("tally_gateway_upstream_healthy", backend);

    /// <summary>The value of a per-instance gauge (<c>tally_gateway_upstream_*</c>) for one backend address, from /metrics.</summary>
    public async Task<double?> UpstreamGaugeAsync(string name, Uri backend)
    {
        using var client = Client();
        var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var address = backend.ToString().TrimEnd('/');
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name + "{", StringComparison.Ordinal) && line.Contains($"address=\"{address}\"", StringComparison.Ordinal))
            {
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return null;
    }
}
