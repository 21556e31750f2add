using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Tally.Server.Cache;

namespace Tally.Server.Features.Auth;

public static class AuthSetup
{
    public const string LoginPolicy = "login";
    public const string SessionHeader = "X-Session";

    public static WebApplicationBuilder AddTallyAuth(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<PasswordHasher>();
        builder.Services.AddSingleton<SessionTokens>();
        builder.Services.AddSingleton<StoredTokenRevocation>();
        // ITokenRevocation comes from the cache module: this store alone, or with Cache:Redis published to every instance too.
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StoredTokenRevocation>());
        builder.Services.AddSingleton<LoginThrottle>();
        builder.Services.AddSingleton<RegistrationThrottle>();

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<SessionTokens, ITokenRevocation>((options, tokens, revocation) =>
            {
                options.MapInboundClaims = false;
                options.TokenValidationParameters = tokens.ValidationParameters();
                options.TokenHandlers.Clear();
                options.TokenHandlers.Add(new RememberingTokenHandler { MapInboundClaims = false });
                options.Events = new JwtBearerEvents
                {
                    OnMessageReceived = context =>
                    {
                        var request = context.Request;
                        if (request.Headers.TryGetValue(SessionHeader, out var session) && !string.IsNullOrEmpty(session))
                        {
                            context.Token = session.ToString();
                        }
                        else if (request.Path.StartsWithSegments("/ws") && request.Query.TryGetValue("session", out var query))
                        {
                            context.Token = query.ToString();
                        }
                        return Task.CompletedTask;
                    },
                    OnTokenValidated = context =>
                    {
                        var jti = context.Principal?.FindFirstValue(JwtRegisteredClaimNames.Jti);
                        if (jti is null || revocation.IsRevoked(jti) || context.Principal.TryGetUserId() is null)
                        {
                            context.Fail("The session was revoked.");
                        }
                        return Task.CompletedTask;
                    },
                    OnChallenge = async context =>
                    {
                        context.HandleResponse();
                        await Problems.Create(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthenticated, "A valid session is required: log in and send it as X-Session or Authorization: Bearer.")
                            .ExecuteAsync(context.HttpContext);
                    },
                };
            });
        builder.Services.AddAuthorization();

        builder.Services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.OnRejected = async (context, token) =>
            {
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                {
                    context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                }
                await Problems.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.TooManyAttempts, "Too many login attempts from this address; retry later.")
                    .ExecuteAsync(context.HttpContext);
            };
            options.AddPolicy(LoginPolicy, context => RateLimitPartition.GetFixedWindowLimiter(
                ClientPartition(context),
                _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = context.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value.LoginPermitsPerIpPerMinute,
                    Window = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                }));
        });
        return builder;
    }

    /// <summary>The client address that per-IP limits count (after the trusted proxy's X-Forwarded-For; an IPv6 client by its /64).</summary>
    public static string ClientPartition(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ClientAddress.PartitionKey(context.Connection.RemoteIpAddress) ?? "unknown";
    }

    /// <summary>The endpoints need a valid, unrevoked session.</summary>
    public static TBuilder RequireSession<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.RequireAuthorization();
    }

    public static long? TryGetUserId(this ClaimsPrincipal? principal) =>
        long.TryParse(principal?.FindFirstValue(JwtRegisteredClaimNames.Sub), NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0 ? id : null;

    public static long GetUserId(this ClaimsPrincipal principal) =>
        principal.TryGetUserId() ?? throw new InvalidOperationException("The endpoint requires a session.");
}

/// <summary>
/// Login attempts per phone (or username), across every client address, with ASP.NET Core's rate limiter.
/// With Cache:Redis the counts (per phone and per client IP) are shared by every instance; when Redis does
/// not answer, this instance counts in memory.
/// </summary>
public sealed class LoginThrottle(IOptions<AuthOptions> options, ISharedAttemptCounter? shared = null) : IDisposable
{
    private readonly PerMinuteCounts _counts = new(options.Value.LoginPermitsPerPhonePerMinute);

    /// <summary>Takes one attempt for <paramref name="key"/> (and the client IP, when shared); null when allowed, else the seconds to wait.</summary>
    public async ValueTask<int?> TryAttemptAsync(string key, string? clientIp)
    {
        var limits = options.Value;
        AttemptLimit[] counted = clientIp is null
            ? [new("login:" + key, limits.LoginPermitsPerPhonePerMinute)]
            : [new("login:" + key, limits.LoginPermitsPerPhonePerMinute), new("login:ip:" + clientIp, limits.LoginPermitsPerIpPerMinute)];
        return await shared.TryCountAsync(counted) is (true, var retryAfter) ? retryAfter : TryAttempt(key);
    }

    /// <summary>Takes one attempt for <paramref name="key"/> in memory; null when allowed, else the seconds to wait.</summary>
    public int? TryAttempt(string key) => _counts.TryTake(key);

    public void Dispose() => _counts.Dispose();
}

/// <summary>
/// Registrations per client IP (each one mints an opening balance), with ASP.NET Core's rate limiter in memory on
/// every instance, and with Cache:Redis also counted in Redis, so that adding instances does not multiply the limit.
/// When Redis does not answer, the in-memory count alone applies. In the handler rather than as an endpoint policy,
/// so that it is taken only by this endpoint, whatever other rate-limiting middleware runs.
/// </summary>
public sealed class RegistrationThrottle(IOptions<AuthOptions> options, ISharedAttemptCounter? shared = null) : IDisposable
{
    private readonly PerMinuteCounts _counts = new(options.Value.RegistrationsPerIpPerMinute);

    /// <summary>Takes one registration for the client; null when allowed, else the seconds to wait.</summary>
    public async ValueTask<int?> TryAttemptAsync(HttpContext context)
    {
        var client = AuthSetup.ClientPartition(context);
        // The local count is always taken: it guards this instance while Redis is down, as the login limit does.
        if (_counts.TryTake(client) is { } wait)
        {
            return wait;
        }
        var (_, retryAfter) = await shared.TryCountAsync([new AttemptLimit("register:ip:" + client, options.Value.RegistrationsPerIpPerMinute)]);
        return retryAfter;
    }

    public void Dispose() => _counts.Dispose();
}

/// <summary>Attempts per key in fixed one-minute windows, in this instance's memory, with ASP.NET Core's rate limiter.</summary>
internal sealed class PerMinuteCounts(int permits) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(
        key,
        _ => new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));

    /// <summary>Takes one attempt for <paramref name="key"/>; null when allowed, else the seconds to wait.</summary>
    public int? TryTake(string key)
    {
        using var lease = _limiter.AttemptAcquire(key);
        if (lease.IsAcquired)
        {
            return null;
        }
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)) : 60;
    }

    public void Dispose() => _limiter.Dispose();
}
