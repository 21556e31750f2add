using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Tally.Server.Features.Auth;

public sealed record RegisterRequest(
    [property: Description("The login key: 8 to 15 digits, unique.")]
    [property: RegularExpression("^[0-9]{8,15}$")]
    string Phone,
    [property: Description("A display name of 1 to 50 characters after trimming; need not be unique.")]
    [property: StringLength(Domain.Username.MaxLength, MinimumLength = 1)]
    string Username,
    [property: StringLength(Domain.Password.MaxLength, MinimumLength = Domain.Password.MinLength)]
    string Password)
{
    /// <summary>The one check of a registration body.</summary>
    public static bool TryRead(JsonBody body, [NotNullWhen(true)] out RegisterRequest? request, [NotNullWhen(false)] out ProblemHttpResult? problem)
    {
        request = null;
        if (!body.IsPresent)
        {
            problem = Problems.BadRequest(ErrorCodes.MissingBody, "Send {phone, username, password} as JSON.");
            return false;
        }
        if (!body.Field(nameof(Phone)).TryGetString(out var phone) || !Domain.Phone.IsValid(phone))
        {
            problem = Problems.BadRequest(ErrorCodes.InvalidPhone, "The phone must be a string of 8 to 15 digits.");
            return false;
        }
        if (!body.Field(nameof(Username)).TryGetString(out var rawName) || Domain.Username.Normalize(rawName) is not { } username)
        {
            problem = Problems.BadRequest(ErrorCodes.InvalidUsername, "The username must be 1 to 50 characters.");
            return false;
        }
        if (!body.Field(nameof(Password)).TryGetString(out var password) || !Domain.Password.IsAcceptable(password))
        {
            problem = Problems.BadRequest(ErrorCodes.WeakPassword, "The password must be 8 to 128 characters.");
            return false;
        }
        request = new RegisterRequest(phone!, username, password!);
        problem = null;
        return true;
    }
}

public sealed record RegisterResponse(long Id, string Phone, string Username, string AccountNumber, long Balance);

/// <summary>A login by phone or, when no phone is given, by username.</summary>
public sealed record LoginRequest(
    string Password,
    [property: Description("The login key; when given, the username is not used.")]
    string? Phone = null,
    [property: Description("Used only without a phone; a name that several users share gets 401 AMBIGUOUS_USERNAME.")]
    string? Username = null)
{
    public static bool TryRead(JsonBody body, [NotNullWhen(true)] out LoginRequest? request, [NotNullWhen(false)] out ProblemHttpResult? problem)
    {
        if (!body.IsPresent
            || !body.Field(nameof(Phone)).TryGetString(out var phone)
            || !body.Field(nameof(Username)).TryGetString(out var username)
            || !body.Field(nameof(Password)).TryGetString(out var password)
            || (string.IsNullOrEmpty(phone) && string.IsNullOrWhiteSpace(username))
            || string.IsNullOrEmpty(password))
        {
            request = null;
            problem = Problems.BadRequest(ErrorCodes.MissingCredentials, "Send a phone (or username) and a password.");
            return false;
        }
        request = new LoginRequest(password, phone, username);
        problem = null;
        return true;
    }
}

/// <summary>The OAuth2 password grant that the /docs page sends to log in.</summary>
public sealed record TokenRequest(
    [property: Description("The phone.")] string Username,
    string Password,
    [property: Description("password, when given.")] string? GrantType = null);

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
        var group = app.MapGroup("/api/auth").WithTags("Auth").ProducesServerErrors();
        group.MapPost("/register", RegisterAsync)
            .WithName("register")
            .WithSummary("Register a user")
            .WithDescription("Creates the user and their account, funded with 100000 from the bank's equity. The phone in the answer is masked.")
            .AcceptsJson<RegisterRequest>()
            .ProducesErrors(StatusCodes.Status400BadRequest, ErrorCodes.MissingBody, ErrorCodes.InvalidPhone, ErrorCodes.InvalidUsername, ErrorCodes.WeakPassword)
            .ProducesErrors(StatusCodes.Status409Conflict, ErrorCodes.PhoneExists)
            .ProducesErrors(StatusCodes.Status429TooManyRequests, ErrorCodes.TooManyAttempts)
            .ProducesCommandErrors();
        group.MapPost("/login", LoginAsync).RequireRateLimiting(AuthSetup.LoginPolicy)
            .WithName("login")
            .WithSummary("Log in")
            .WithDescription("By phone, or by username when no phone is given. Answers a session to send as X-Session or Authorization: Bearer.")
            .AcceptsJson<LoginRequest>()
            .ProducesErrors(StatusCodes.Status400BadRequest, ErrorCodes.MissingCredentials)
            .ProducesErrors(StatusCodes.Status401Unauthorized, ErrorCodes.InvalidCredentials, ErrorCodes.AmbiguousUsername)
            .ProducesErrors(StatusCodes.Status429TooManyRequests, ErrorCodes.TooManyAttempts);
        group.MapPost("/token", TokenAsync).RequireRateLimiting(AuthSetup.LoginPolicy).DisableAntiforgery()
            .WithName("issueToken")
            .WithSummary("Log in with the OAuth2 password grant")
            .WithDescription("For the /docs page and OAuth2 clients: the phone is the username. The access token is a session.")
            .Accepts<TokenRequest>("application/x-www-form-urlencoded")
            .ProducesErrors(StatusCodes.Status400BadRequest, ErrorCodes.MissingCredentials, ErrorCodes.InvalidRequest)
            .ProducesErrors(StatusCodes.Status401Unauthorized, ErrorCodes.InvalidCredentials)
            .ProducesErrors(StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge)
            .ProducesErrors(StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType)
            .ProducesErrors(StatusCodes.Status429TooManyRequests, ErrorCodes.TooManyAttempts);
        group.MapPost("/logout", LogoutAsync).RequireSession()
            .WithName("logout")
            .WithSummary("Log out")
            .WithDescription("Revokes the session on every instance.")
            .ProducesSessionErrors();
        group.MapAreaHealth("auth");
        return app;
    }

    internal static async Task<Results<Ok<RegisterResponse>, ProblemHttpResult>> RegisterAsync(
        JsonBody body, HttpContext http, PasswordHasher hasher, ICommandBus bus, RegistrationThrottle throttle, CancellationToken cancellationToken)
    {
        if (await throttle.TryAttemptAsync(http) is { } retryAfter)
        {
            http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
            return Problems.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.TooManyAttempts, "Too many registrations from this address; retry later.");
        }
        if (!RegisterRequest.TryRead(body, out var request, out var problem))
        {
            return problem;
        }
        var outcome = await bus.SendAsync(new RegisterUser(request.Phone, request.Username, await hasher.HashAsync(request.Password, cancellationToken)), cancellationToken);
        if (outcome.Error is { } error)
        {
            return Problems.From(error);
        }
        var user = outcome.Value!;
        return TypedResults.Ok(new RegisterResponse(user.Id, Phone.Mask(user.Phone), user.Username, user.AccountNumber, user.Balance));
    }

    internal static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> LoginAsync(
        JsonBody body, HttpContext http, PasswordHasher hasher, SessionTokens tokens, ILedgerReader reader, LoginThrottle throttle, TallyMetrics metrics)
    {
        if (!LoginRequest.TryRead(body, out var request, out var problem))
        {
            return problem;
        }
        var result = await AuthenticateAsync(request.Phone, request.Username, request.Password, http, hasher, reader, throttle, metrics);
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
