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

/// <summary>
/// How the gateway tells ill health from overload. A busy instance is never taken out of the pool: an answer with
/// Retry-After (503 <c>OVERLOADED</c>, 429) is a sign of life, a slow answer is not a failure, and a probe that
/// times out counts only after <see cref="ActiveConsecutiveTimeouts"/> in a row. Connection refusals and resets, and
/// a <c>/ready</c> that says 503 without Retry-After, are ill health. When too few instances look healthy, the
/// gateway routes to all of them rather than refuse (<see cref="PanicThreshold"/>), and an instance that joins is
/// ramped in over <see cref="SlowStartWindow"/>.
/// </summary>
public sealed class HealthCheckOptions
{
    /// <summary>Active probes of <see cref="ActivePath"/> on every instance.</summary>
    public bool ActiveEnabled { get; set; } = true;

    [Required]
    public string ActivePath { get; set; } = "/ready";

    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan ActiveInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Longest wait for a probe's answer. Tally answers /ready from a cached report that admission control never
    /// refuses, so a probe slower than this means a starved process, not a dead one: see <see cref="ActiveConsecutiveTimeouts"/>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:05:00")]
    public TimeSpan ActiveTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Probes in a row that failed outright (connection refused or reset, or a 5xx/4xx answer without Retry-After, such as
    /// /ready's 503 while warming up or with a dependency down) that take an instance out of the pool.
    /// </summary>
    [Range(1, 100)]
    public int ActiveConsecutiveFailures { get; set; } = 2;

    /// <summary>
    /// Probes in a row without an answer in time (timeouts, counted with outright failures) that take an instance out:
    /// about this many probe rounds of silence (5 × (2 s + 2 s) ≈ 20 s by default) mark a wedged process, where a few
    /// slow probes are only a busy one.
    /// </summary>
    [Range(1, 1000)]
    public int ActiveConsecutiveTimeouts { get; set; } = 5;

    /// <summary>Passive checks: an instance failing live requests at the transport level leaves the pool.</summary>
    public bool PassiveEnabled { get; set; } = true;

    /// <summary>
    /// Share of failed live requests in the detection window that ejects an instance. Only transport failures count
    /// (connection refused or reset, a broken request or response body); a timed-out answer and any HTTP status do not.
    /// </summary>
    [Range(0.01, 1.0)]
    public double PassiveFailureRate { get; set; } = 0.3;

    /// <summary>
    /// The window over which the failure rate is computed. The failures of an outage stay in it after the instance comes
    /// back, so a long window would eject a recovered instance again until it clears.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan PassiveWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests in the window below which the rate is not judged.</summary>
    [Range(1, 1_000_000)]
    public int PassiveMinimalRequests { get; set; } = 10;

    /// <summary>How long a passively ejected instance stays out before it is tried again (at least the window).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan PassiveReactivationPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Panic routing (Envoy's idea): when fewer than this share of the instances look healthy, requests go to all of
    /// them except those refusing connections, rather than pile onto the few or get 503 <c>NO_HEALTHY_UPSTREAM</c>.
    /// 0 turns it off.
    /// </summary>
    [Range(0.0, 1.0)]
    public double PanicThreshold { get; set; } = 0.5;

    /// <summary>
    /// An instance that joins the pool (first seen, or healthy again after being out) gets a share of traffic that grows
    /// linearly from a tenth to its full share over this window (Envoy's slow start). 0 turns it off.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan SlowStartWindow { get; set; } = TimeSpan.FromSeconds(10);
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

    /// <summary>
    /// The gateway's budget for a request, from its arrival at the gateway to the instance's answer. The instance is told
    /// what is left of it in a <c>Request-Timeout</c> header (the client's own <c>Request-Timeout</c>, when shorter, wins),
    /// so that its deadline is end to end; a request whose budget ran out while it queued is answered 504 without being sent.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Longest wait for an instance's answer (time without any progress); 504 <c>UPSTREAM_TIMEOUT</c> beyond it. A backstop
    /// above <see cref="RequestTimeout"/>: an instance honours its deadline and answers 504 <c>DEADLINE_EXCEEDED</c> first.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest idle time of a proxied WebSocket (Tally pings idle sockets every 20 s). WebSockets have no request deadline.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan WebSocketIdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Requests forwarded at once; past it they queue.</summary>
    [Range(1, 1_000_000)]
    public int MaxConcurrentRequests { get; set; } = 1024;

    /// <summary>Requests that may wait for a slot; past it the answer is 503 at once.</summary>
    [Range(0, 1_000_000)]
    public int QueueLimit { get; set; } = 64;

    /// <summary>
    /// Longest wait in the queue (shorter still when the request's own deadline is nearer); 503 with Retry-After beyond it.
    /// Short on purpose: a queue absorbs a burst of a few milliseconds, not an overload.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Refuse new requests (503, Retry-After) while work has waited longer than this in the gateway's own thread-pool
    /// queue for a whole 100 ms: the gateway's CPU can't keep up with what arrives, and everything it forwards
    /// would wait. Zero turns it off.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan MaxQueueDelay { get; set; } = TimeSpan.FromMilliseconds(5);
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
