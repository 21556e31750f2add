using System.ComponentModel.DataAnnotations;

namespace Tally.Gateway.Options;

/// <summary>Everything the gateway does is configuration under <c>Gateway</c> (environment <c>Gateway__...</c>).</summary>
public sealed class GatewayOptions : IValidatableObject
{
    public const string Section = "Gateway";

    /// <summary>Base addresses of the api instances (<c>Gateway__Backends__0=http://127.0.0.1:8081</c>).</summary>
    [Required, MinLength(1)]
    public string[] Backends { get; set; } = [];

    /// <summary>YARP load-balancing policy: <c>PowerOfTwoChoices</c>, <c>LeastRequests</c>, <c>RoundRobin</c>, ...</summary>
    [Required]
    public string LoadBalancingPolicy { get; set; } = "PowerOfTwoChoices";

    [Required]
    public HealthCheckOptions HealthChecks { get; set; } = new();

    [Required]
    public LimitsOptions Limits { get; set; } = new();

    [Required]
    public RateLimitOptions RateLimits { get; set; } = new();

    [Required]
    public SecurityHeadersOptions SecurityHeaders { get; set; } = new();

    /// <summary>Origins allowed to call the API from a browser; empty means same-origin only.</summary>
    public string[] CorsOrigins { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var backend in Backends)
        {
            if (!Uri.TryCreate(backend, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                yield return new ValidationResult($"Gateway:Backends holds '{backend}', which is not an absolute http(s) URL.", [nameof(Backends)]);
            }
        }
        foreach (var origin in CorsOrigins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out _))
            {
                yield return new ValidationResult($"Gateway:CorsOrigins holds '{origin}', which is not an absolute origin.", [nameof(CorsOrigins)]);
            }
        }
        var nested = new List<ValidationResult>();
        foreach (var child in new object[] { HealthChecks, Limits, RateLimits, SecurityHeaders })
        {
            Validator.TryValidateObject(child, new ValidationContext(child), nested, validateAllProperties: true);
        }
        foreach (var result in nested)
        {
            yield return result;
        }
    }
}

public sealed class HealthCheckOptions
{
    /// <summary>Active probes of <see cref="ActivePath"/> on every instance.</summary>
    public bool ActiveEnabled { get; set; } = true;

    [Required]
    public string ActivePath { get; set; } = "/ready";

    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan ActiveInterval { get; set; } = TimeSpan.FromSeconds(2);

    [Range(typeof(TimeSpan), "00:00:00.050", "00:05:00")]
    public TimeSpan ActiveTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Failed probes in a row that take an instance out of the pool.</summary>
    [Range(1, 100)]
    public int ActiveConsecutiveFailures { get; set; } = 2;

    /// <summary>Passive checks: an instance failing live requests leaves the pool.</summary>
    public bool PassiveEnabled { get; set; } = true;

    /// <summary>Share of failed live requests (transport errors) in the detection window that ejects an instance.</summary>
    [Range(0.01, 1.0)]
    public double PassiveFailureRate { get; set; } = 0.3;

    /// <summary>
    /// The window over which the failure rate is computed. YARP keeps the failures of an outage in it after
    /// the instance comes back, so a long window would eject a recovered instance again until it clears.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan PassiveWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests in the window below which the rate is not judged.</summary>
    [Range(1, 1_000_000)]
    public int PassiveMinimalRequests { get; set; } = 10;

    /// <summary>How long a passively ejected instance stays out before it is tried again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan PassiveReactivationPeriod { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class LimitsOptions
{
    /// <summary>Request body limit: 413 beyond it.</summary>
    [Range(1, long.MaxValue)]
    public long MaxBodyBytes { get; set; } = 65_536;

    /// <summary>Kestrel: time to receive the request headers.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Kestrel: idle keep-alive connection lifetime.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(120);

    [Range(1024, 1_048_576)]
    public int MaxRequestHeadersTotalSize { get; set; } = 32_768;

    /// <summary>Longest wait for an instance's answer (and longest idle WebSocket); 504 beyond it.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Requests forwarded at once; past it they queue.</summary>
    [Range(1, 1_000_000)]
    public int MaxConcurrentRequests { get; set; } = 1024;

    /// <summary>Requests that may wait for a slot; past it the answer is 503 at once.</summary>
    [Range(0, 1_000_000)]
    public int QueueLimit { get; set; } = 64;

    /// <summary>Longest wait in the queue; 503 beyond it.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromSeconds(1);
}

public sealed class RateLimitOptions
{
    /// <summary>Every request from one client IP (token bucket: per second, and the burst).</summary>
    [Range(1, 10_000_000)]
    public int PerIpPerSecond { get; set; } = 500;

    [Range(1, 10_000_000)]
    public int PerIpBurst { get; set; } = 1000;

    /// <summary>Every request carrying one session (X-Session or Bearer token, hashed).</summary>
    [Range(1, 10_000_000)]
    public int PerSessionPerSecond { get; set; } = 50;

    [Range(1, 10_000_000)]
    public int PerSessionBurst { get; set; } = 100;

    /// <summary>POST /api/auth/login and /api/auth/token, per client IP and minute.</summary>
    [Range(1, 10_000_000)]
    public int LoginPerIpPerMinute { get; set; } = 60;

    /// <summary>POST /api/transfer/transfer, per session (or IP without one): per second, and the burst.</summary>
    [Range(1, 10_000_000)]
    public int TransferPerSessionPerSecond { get; set; } = 10;

    [Range(1, 10_000_000)]
    public int TransferPerSessionBurst { get; set; } = 20;
}

public sealed class SecurityHeadersOptions
{
    /// <summary>Sent unless the instance set its own (Tally's /docs page has a looser one).</summary>
    [Required]
    public string ContentSecurityPolicy { get; set; } =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

    [Required]
    public string ReferrerPolicy { get; set; } = "no-referrer";

    /// <summary>Sent only on HTTPS requests.</summary>
    [Required]
    public string StrictTransportSecurity { get; set; } = "max-age=31536000; includeSubDomains";
}
