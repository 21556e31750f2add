using System.Collections.Concurrent;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Tally.Server.Features.Auth;

/// <summary>
/// The session check of every request, with the outcome of a valid token remembered for a few seconds: a client
/// sends the same token with each request, and parsing it, checking its signature and building its claims was a
/// large share of an api instance's CPU per request. Only the pure part is remembered: the signature, issuer,
/// audience and lifetime of the same string give the same answer until the token expires (the parameters are the
/// scheme's, fixed while the host runs; JwtBearer hands a fresh copy of them to each call), and an entry never
/// outlives its token. Revocation is not part of it: it is checked on every request
/// (JwtBearerEvents.OnTokenValidated runs after this handler each time).
/// </summary>
internal sealed class RememberingTokenHandler : JsonWebTokenHandler
{
    /// <summary>Bounds the memory the entries take; a full table is dropped and refills from the requests that follow.</summary>
    internal const int Capacity = 4096;

    private static readonly TimeSpan s_remember = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, Entry> _valid = new(StringComparer.Ordinal);

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        // The clock of the lifetime check itself (IdentityModel reads DateTime.UtcNow), so that no entry outlives a token.
        var now = DateTime.UtcNow;
        if (token is not null && _valid.TryGetValue(token, out var hit))
        {
            if (now < hit.Until)
            {
                return hit.Result;
            }
            _valid.TryRemove(token, out _);
        }
        var result = await base.ValidateTokenAsync(token, validationParameters).ConfigureAwait(false);
        if (result.IsValid && token is not null && result.SecurityToken is JsonWebToken jwt && jwt.ValidTo > now)
        {
            if (_valid.Count >= Capacity)
            {
                _valid.Clear();
            }
            var until = now + s_remember;
            _valid[token] = new Entry(result, jwt.ValidTo < until ? jwt.ValidTo : until);
        }
        return result;
    }

    private sealed record Entry(TokenValidationResult Result, DateTime Until);
}
