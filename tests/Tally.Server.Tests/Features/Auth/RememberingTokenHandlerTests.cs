using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tally.Server.Features.Auth;

namespace Tally.Server.Tests.Features.Auth;

/// <summary>The remembered session check answers as the full check would: the same token, the same answer, until it expires.</summary>
public sealed class RememberingTokenHandlerTests
{
    private static readonly SymmetricSecurityKey s_key = new(RandomNumberGenerator.GetBytes(32));

    private static TokenValidationParameters Parameters() => new()
    {
        ValidIssuer = "tally",
        ValidAudience = "tally",
        IssuerSigningKey = s_key,
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        RequireExpirationTime = true,
        ValidateLifetime = true,
        ClockSkew = TimeSpan.Zero,
    };

    private static string Token(DateTime expires, SecurityKey? key = null)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim(JwtRegisteredClaimNames.Sub, "7")]),
            Issuer = "tally",
            Audience = "tally",
            IssuedAt = now.AddSeconds(-10),
            NotBefore = now.AddSeconds(-10),
            Expires = expires,
            SigningCredentials = new SigningCredentials(key ?? s_key, SecurityAlgorithms.HmacSha256),
        });
    }

    [Fact]
    public async Task ValidToken_ValidatedAgain_IsRemembered()
    {
        var handler = new RememberingTokenHandler();
        var token = Token(DateTime.UtcNow.AddMinutes(5));

        var first = await handler.ValidateTokenAsync(token, Parameters());
        var second = await handler.ValidateTokenAsync(token, Parameters());

        Assert.True(first.IsValid);
        Assert.Same(first, second);
        Assert.Equal("7", second.ClaimsIdentity.FindFirst(JwtRegisteredClaimNames.Sub)?.Value);
    }

    [Fact]
    public async Task TokenSignedWithAnotherKey_IsInvalid_EveryTime()
    {
        var handler = new RememberingTokenHandler();
        var token = Token(DateTime.UtcNow.AddMinutes(5), new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32)));

        Assert.False((await handler.ValidateTokenAsync(token, Parameters())).IsValid);
        Assert.False((await handler.ValidateTokenAsync(token, Parameters())).IsValid);
    }

    [Fact]
    public async Task RememberedToken_PastItsExpiry_IsInvalid()
    {
        var handler = new RememberingTokenHandler();
        // exp is whole seconds: at least one second from now, at most two.
        var expires = DateTime.UtcNow.AddSeconds(2);
        var token = Token(expires);
        Assert.True((await handler.ValidateTokenAsync(token, Parameters())).IsValid);

        await Task.Delay(expires - DateTime.UtcNow + TimeSpan.FromMilliseconds(200));

        Assert.False((await handler.ValidateTokenAsync(token, Parameters())).IsValid);
    }
}
