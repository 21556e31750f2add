using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Which peers may say who the client is (X-Forwarded-For and X-Forwarded-Proto), so that per-IP limits and logs see
/// the client behind a proxy. Only a trusted peer's header counts, and only its last hop: a client can't pick its own
/// address by sending the header. Settings, comma-separated: <c>ForwardedHeaders:KnownProxies</c> (addresses) and
/// <c>ForwardedHeaders:KnownNetworks</c> (CIDR, e.g. a pod network 10.0.0.0/8). When either is set it replaces the default.
/// </summary>
public static class ForwardedHeadersSetup
{
    public const string Section = "ForwardedHeaders";

    /// <param name="trustLoopbackByDefault">
    /// Tally.Server trusts loopback unless configured (a gateway on the same host); the gateway, the edge, trusts no one unless configured.
    /// </param>
    public static TBuilder AddTrustedProxies<TBuilder>(this TBuilder builder, bool trustLoopbackByDefault)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<ForwardedHeadersOptions>().Configure<IConfiguration>((options, configuration) =>
        {
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            var proxies = Split(configuration[$"{Section}:KnownProxies"]);
            var networks = Split(configuration[$"{Section}:KnownNetworks"]);
            if (proxies.Length == 0 && networks.Length == 0)
            {
                // Empty lists would make the middleware trust every peer, so "no one" turns it off instead.
                options.ForwardedHeaders = trustLoopbackByDefault ? options.ForwardedHeaders : ForwardedHeaders.None;
                return;
            }
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            foreach (var proxy in proxies)
            {
                options.KnownProxies.Add(IPAddress.TryParse(proxy, out var address)
                    ? address
                    : throw Invalid($"{Section}:KnownProxies: '{proxy}' is not an IP address."));
            }
            foreach (var network in networks)
            {
                options.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(network, out var parsed)
                    ? parsed
                    : throw Invalid($"{Section}:KnownNetworks: '{network}' is not a network in CIDR form (e.g. 10.0.0.0/8)."));
            }
        });
        return builder;
    }

    private static string[] Split(string? list) => (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static OptionsValidationException Invalid(string message) => new(Section, typeof(ForwardedHeadersOptions), [message]);
}

/// <summary>The unit that a per-client limit counts.</summary>
public static class ClientAddress
{
    /// <summary>
    /// An IPv4 address as it is (IPv4-mapped IPv6 included), or an IPv6 address cut to its /64: one subscriber's
    /// network is usually a whole /64, so a client could otherwise step round a per-address limit at will.
    /// </summary>
    public static IPAddress Partition(IPAddress? address)
    {
        if (address is null)
        {
            return IPAddress.None;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address;
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary><see cref="Partition"/> as a limiter key; null when the connection has no IP address (a test server).</summary>
    public static string? PartitionKey(IPAddress? address) => address is null ? null : Partition(address).ToString();
}
