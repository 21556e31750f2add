using System.Globalization;
using System.IO.Hashing;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Tally.Domain;

namespace Tally.Gateway.Protection;

/// <summary>
/// ASP.NET Core's rate limiter, one chained global limiter: every request per client IP, every
/// authenticated request per session, logins per IP, and transfers per session. A refusal is a 429
/// problem with Retry-After. The operations endpoints are never limited.
/// </summary>
public static class GatewayRateLimits
{
    private const string SessionHeader = "X-Session";
    private const string BearerPrefix = "Bearer ";

    // Sessions are partitioned by a keyed hash of the token, so no raw token is kept as a key.
    private static readonly ulong s_seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));

    public static WebApplicationBuilder AddGatewayRateLimits(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<GatewayOptions>>((limiter, gateway) =>
        {
            limiter.GlobalLimiter = CreateLimiter(gateway.Value.RateLimits);
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = OnRejectedAsync;
        });
        return builder;
    }

    public static PartitionedRateLimiter<HttpContext> CreateLimiter(RateLimitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var perIp = Bucket(options.PerIpPerSecond, options.PerIpBurst);
        var perSession = Bucket(options.PerSessionPerSecond, options.PerSessionBurst);
        var transfer = Bucket(options.TransferPerSessionPerSecond, options.TransferPerSessionBurst);
        var login = new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.LoginPerIpPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
            AutoReplenishment = false,
        };
        // Factories made once: a lambda capturing options inside the partitioner would allocate per request.
        Func<IPAddress, TokenBucketRateLimiterOptions> ipFactory = _ => perIp;
        Func<ulong, TokenBucketRateLimiterOptions> sessionFactory = _ => perSession;
        Func<IPAddress, FixedWindowRateLimiterOptions> loginFactory = _ => login;
        Func<ulong, TokenBucketRateLimiterOptions> transferFactory = _ => transfer;

        var byIp = PartitionedRateLimiter.Create<HttpContext, IPAddress>(context => IsExempt(context)
            ? RateLimitPartition.GetNoLimiter(IPAddress.None)
            : RateLimitPartition.GetTokenBucketLimiter(ClientIp(context), ipFactory));
        var bySession = PartitionedRateLimiter.Create<HttpContext, ulong>(context => !IsExempt(context) && TrySessionKey(context, out var key)
            ? RateLimitPartition.GetTokenBucketLimiter(key, sessionFactory)
            : RateLimitPartition.GetNoLimiter(0UL));
        var logins = PartitionedRateLimiter.Create<HttpContext, IPAddress>(context => IsLogin(context.Request)
            ? RateLimitPartition.GetFixedWindowLimiter(ClientIp(context), loginFactory)
            : RateLimitPartition.GetNoLimiter(IPAddress.None));
        var transfers = PartitionedRateLimiter.Create<HttpContext, ulong>(context => IsTransfer(context.Request)
            ? RateLimitPartition.GetTokenBucketLimiter(TrySessionKey(context, out var key) ? key : IpKey(context), transferFactory)
            : RateLimitPartition.GetNoLimiter(0UL));
        return PartitionedRateLimiter.CreateChained(byIp, bySession, logins, transfers);
    }

    private static TokenBucketRateLimiterOptions Bucket(int perSecond, int burst) => new()
    {
        TokenLimit = Math.Max(burst, 1),
        TokensPerPeriod = perSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = false,
    };

    private static bool IsExempt(HttpContext context) => ServiceDefaultsExtensions.IsOperationsPath(context.Request.Path);

    private static IPAddress ClientIp(HttpContext context) => ClientAddress.Partition(context.Connection.RemoteIpAddress);

    private static ulong IpKey(HttpContext context)
    {
        Span<byte> bytes = stackalloc byte[16];
        return ClientIp(context).TryWriteBytes(bytes, out var written) ? XxHash3.HashToUInt64(bytes[..written], (long)s_seed) : 0UL;
    }

    internal static bool IsLogin(HttpRequest request) =>
        HttpMethods.IsPost(request.Method)
        && (request.Path.Equals("/api/auth/login", StringComparison.OrdinalIgnoreCase) || request.Path.Equals("/api/auth/token", StringComparison.OrdinalIgnoreCase));

    internal static bool IsTransfer(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && request.Path.Equals("/api/transfer/transfer", StringComparison.OrdinalIgnoreCase);

    /// <summary>The session token (X-Session, or an Authorization Bearer value) as a keyed 64-bit hash.</summary>
    internal static bool TrySessionKey(HttpContext context, out ulong key)
    {
        var headers = context.Request.Headers;
        ReadOnlySpan<char> token = headers[SessionHeader].ToString();
        if (token.IsEmpty)
        {
            var authorization = headers.Authorization.ToString().AsSpan();
            if (authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            {
                token = authorization[BearerPrefix.Length..].Trim();
            }
        }
        if (token.IsEmpty)
        {
            key = 0;
            return false;
        }
        key = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(token), (long)s_seed);
        return true;
    }

    private static async ValueTask OnRejectedAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)
            ? (int)Math.Clamp(Math.Ceiling(wait.TotalSeconds), 1, 3600)
            : 1;
        var login = IsLogin(context.Request);
        context.RequestServices.GetRequiredService<GatewayMetrics>().Rejected(login ? "login_rate" : "rate");
        await GatewayProblems.WriteAsync(
            context,
            StatusCodes.Status429TooManyRequests,
            login ? ErrorCodes.TooManyAttempts : ErrorCodes.RateLimited,
            string.Create(CultureInfo.InvariantCulture, $"Too many requests; retry in {retryAfter} s."),
            retryAfter);
    }
}
