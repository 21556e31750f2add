using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.IdentityModel.JsonWebTokens;
using Tally.Domain;
using Tally.Server.Bus;
using Tally.Server.Http;
using Tally.Server.Observability;
using Tally.Server.Storage;

namespace Tally.Server.Features.Auth;

public sealed record RegisterRequest(JsonElement? Phone, JsonElement? Username, JsonElement? Password);

public sealed record RegisterResponse(long Id, string Phone, string Username, string AccountNumber, long Balance);

public sealed record LoginRequest(JsonElement? Phone, JsonElement? Username, JsonElement? Password);

public sealed record LoginResponse(string Session, string TokenType, long ExpiresIn, string Phone, string Username, string AccountNumber, long Balance);

public sealed record TokenResponse(string AccessToken, string TokenType, long ExpiresIn);

/// <summary>Creates a user, their account, and the opening transfer from the bank's equity. Carries the hash, never the password.</summary>
public sealed record RegisterUser(string Phone, string Username, string PasswordHash) : ICommand<Outcome<UserView>>;

public sealed class RegisterUserHandler(ILedgerStore store, TimeProvider time) : ICommandHandler<RegisterUser, Outcome<UserView>>
{
    public Task<Outcome<UserView>> HandleAsync(RegisterUser command, CommandContext context, CancellationToken cancellationToken)
    {
        if (!Phone.IsValid(command.Phone) || Username.Normalize(command.Username) != command.Username)
        {
            return Task.FromResult<Outcome<UserView>>(DomainError.BadRequest(ErrorCodes.InvalidRequest, "The registration is not valid."));
        }
        return store.RegisterAsync(command.Phone, command.Username, command.PasswordHash, time.GetUtcNow(), context.InboxId);
    }
}

public static class AuthApi
{
    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var group = app.MapGroup("/api/auth").WithTags("Auth");
        group.MapPost("/register", RegisterAsync);
        group.MapPost("/login", LoginAsync).RequireRateLimiting(AuthSetup.LoginPolicy);
        group.MapPost("/token", TokenAsync).RequireRateLimiting(AuthSetup.LoginPolicy).DisableAntiforgery();
        group.MapPost("/logout", LogoutAsync).RequireSession();
        group.MapAreaHealth("auth");
        return app;
    }

    internal static async Task<Results<Ok<RegisterResponse>, ProblemHttpResult>> RegisterAsync(
        RegisterRequest? body, HttpContext http, PasswordHasher hasher, ICommandBus bus, RegistrationThrottle throttle, CancellationToken cancellationToken)
    {
        if (await throttle.TryAttemptAsync(http) is { } retryAfter)
        {
            http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
            return Problems.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.TooManyAttempts, "Too many registrations from this address; retry later.");
        }
        if (body is null)
        {
            return Problems.BadRequest(ErrorCodes.MissingBody, "Send {phone, username, password} as JSON.");
        }
        if (!body.Phone.TryGetString(out var phone) || !Phone.IsValid(phone))
        {
            return Problems.BadRequest(ErrorCodes.InvalidPhone, "The phone must be a string of 8 to 15 digits.");
        }
        if (!body.Username.TryGetString(out var rawName) || Username.Normalize(rawName) is not { } username)
        {
            return Problems.BadRequest(ErrorCodes.InvalidUsername, "The username must be 1 to 50 characters.");
        }
        if (!body.Password.TryGetString(out var password) || !Password.IsAcceptable(password))
        {
            return Problems.BadRequest(ErrorCodes.WeakPassword, "The password must be 8 to 128 characters.");
        }
        var outcome = await bus.SendAsync(new RegisterUser(phone!, username, await hasher.HashAsync(password!, cancellationToken)), cancellationToken);
        if (outcome.Error is { } error)
        {
            return Problems.From(error);
        }
        var user = outcome.Value!;
        return TypedResults.Ok(new RegisterResponse(user.Id, Phone.Mask(user.Phone), user.Username, user.AccountNumber, user.Balance));
    }

    internal static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> LoginAsync(
        LoginRequest? body, HttpContext http, PasswordHasher hasher, SessionTokens tokens, ILedgerReader reader, LoginThrottle throttle, TallyMetrics metrics)
    {
        if (body is null
            || !body.Phone.TryGetString(out var phone)
            || !body.Username.TryGetString(out var username)
            || !body.Password.TryGetString(out var password)
            || (string.IsNullOrEmpty(phone) && string.IsNullOrWhiteSpace(username))
            || string.IsNullOrEmpty(password))
        {
            return Problems.BadRequest(ErrorCodes.MissingCredentials, "Send a phone (or username) and a password.");
        }
        var result = await AuthenticateAsync(phone, username, password, http, hasher, reader, throttle, metrics);
        if (result.Error is { } error)
        {
            return Problems.From(error);
        }
        var user = result.Value!;
        return TypedResults.Ok(new LoginResponse(tokens.Issue(user.Id), "bearer", (long)tokens.Lifetime.TotalSeconds, Phone.Mask(user.Phone), user.Username, user.AccountNumber, user.Balance));
    }

    internal static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> TokenAsync(
        HttpContext http, PasswordHasher hasher, SessionTokens tokens, ILedgerReader reader, LoginThrottle throttle, TallyMetrics metrics)
    {
        if (!http.Request.HasFormContentType)
        {
            return Problems.Create(StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType, "Send the OAuth2 password grant as application/x-www-form-urlencoded.");
        }
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var grant = form["grant_type"].ToString();
        string phone = form["username"].ToString(), password = form["password"].ToString();
        if ((grant.Length > 0 && grant != "password") || phone.Length == 0 || password.Length == 0)
        {
            return Problems.BadRequest(ErrorCodes.MissingCredentials, "Send grant_type=password, username (the phone) and password.");
        }
        var result = await AuthenticateAsync(phone, null, password, http, hasher, reader, throttle, metrics);
        if (result.Error is { } error)
        {
            return Problems.From(error);
        }
        return TypedResults.Ok(new TokenResponse(tokens.Issue(result.Value!.Id), "bearer", (long)tokens.Lifetime.TotalSeconds));
    }

    internal static async Task<NoContent> LogoutAsync(ClaimsPrincipal principal, ITokenRevocation revocation)
    {
        var jti = principal.FindFirstValue(JwtRegisteredClaimNames.Jti)!;
        var exp = long.Parse(principal.FindFirstValue(JwtRegisteredClaimNames.Exp)!, CultureInfo.InvariantCulture);
        await revocation.RevokeAsync(jti, DateTimeOffset.FromUnixTimeSeconds(exp));
        return TypedResults.NoContent();
    }

    private static async Task<Outcome<LoginCandidate>> AuthenticateAsync(
        string? phone, string? username, string password, HttpContext http, PasswordHasher hasher, ILedgerReader reader, LoginThrottle throttle, TallyMetrics metrics)
    {
        var byPhone = !string.IsNullOrEmpty(phone);
        var key = byPhone ? "p:" + phone : "u:" + username!.Trim();
        if (await throttle.TryAttemptAsync(key, ClientAddress.PartitionKey(http.Connection.RemoteIpAddress)) is { } retryAfter)
        {
            metrics.Login("throttled");
            http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
            return new DomainError(ErrorCodes.TooManyAttempts, StatusCodes.Status429TooManyRequests, "Too many login attempts for this account; retry later.");
        }

        LoginCandidate? candidate;
        if (byPhone)
        {
            candidate = Phone.IsValid(phone) ? await reader.FindLoginByPhoneAsync(phone!) : null;
        }
        else
        {
            // A name that is not a valid username (a NUL byte, say) belongs to nobody: no query is needed.
            var matches = Username.Normalize(username) is { } name ? await reader.FindLoginsByUsernameAsync(name) : [];
            if (matches.Count > 1)
            {
                await hasher.VerifyDummyAsync(password, http.RequestAborted);
                metrics.Login("ambiguous");
                return new DomainError(ErrorCodes.AmbiguousUsername, StatusCodes.Status401Unauthorized, "Several users share this username; log in with your phone.");
            }
            candidate = matches.Count == 1 ? matches[0] : null;
        }

        if (candidate is null)
        {
            await hasher.VerifyDummyAsync(password, http.RequestAborted);
        }
        if (candidate is null || !await hasher.VerifyAsync(password, candidate.PasswordHash, http.RequestAborted))
        {
            metrics.Login("failed");
            return new DomainError(ErrorCodes.InvalidCredentials, StatusCodes.Status401Unauthorized, "The phone or password is wrong.");
        }
        metrics.Login("ok");
        return Outcome<LoginCandidate>.Ok(candidate);
    }
}
