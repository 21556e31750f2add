using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Tally.Server.Features.Auth;

/// <summary>
/// Sessions are HS256 JWTs: checked by signature alone, with no database round trip. The key comes from
/// configuration, or in embedded mode is generated once and kept in the data folder so sessions survive restarts.
/// </summary>
public sealed class SessionTokens
{
    private readonly AuthOptions _options;
    private readonly JsonWebTokenHandler _handler = new();
    private readonly TimeProvider _time;

    public SessionTokens(IOptions<AuthOptions> options, IOptions<StorageOptions> storage, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        SigningKey = new SymmetricSecurityKey(LoadKey(_options.SigningKey, Directory.CreateDirectory(Path.GetFullPath(storage.Value.DataDirectory)).FullName));
    }

    public SymmetricSecurityKey SigningKey { get; }

    public TimeSpan Lifetime => _options.TokenLifetime;

    public string Issue(long userId)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim(JwtRegisteredClaimNames.Sub, userId.ToString(System.Globalization.CultureInfo.InvariantCulture))]),
            Claims = new Dictionary<string, object> { [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N") },
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + _options.TokenLifetime,
            SigningCredentials = new SigningCredentials(SigningKey, SecurityAlgorithms.HmacSha256),
        });
    }

    public TokenValidationParameters ValidationParameters() => new()
    {
        ValidIssuer = _options.Issuer,
        ValidAudience = _options.Audience,
        IssuerSigningKey = SigningKey,
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        ValidateLifetime = true,
        ClockSkew = TimeSpan.FromSeconds(5),
        NameClaimType = JwtRegisteredClaimNames.Sub,
    };

    private static byte[] LoadKey(string? configured, string dataDirectory)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            var key = Convert.FromBase64String(configured);
            if (key.Length < 32)
            {
                throw new InvalidOperationException("Auth:SigningKey must be base64 of at least 32 bytes.");
            }
            return key;
        }
        var path = Path.Combine(dataDirectory, "signing.key");
        if (File.Exists(path))
        {
            return Convert.FromBase64String(File.ReadAllText(path).Trim());
        }
        var generated = RandomNumberGenerator.GetBytes(64);
        var temp = path + ".tmp";
        File.WriteAllText(temp, Convert.ToBase64String(generated));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        try
        {
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException)
        {
            // Another instance wrote it first; use theirs.
            File.Delete(temp);
            return Convert.FromBase64String(File.ReadAllText(path).Trim());
        }
        return generated;
    }
}

/// <summary>Revoked session ids until their tokens expire.</summary>
public interface ITokenRevocation
{
    bool IsRevoked(string jti);

    Task RevokeAsync(string jti, DateTimeOffset expiresAt);
}

/// <summary>Revocations held in memory for the per-request check, and kept in the database so they survive restarts.</summary>
public sealed class StoredTokenRevocation(ILedgerStore store, ILedgerReader reader, TimeProvider time) : ITokenRevocation, IHostedService
{
    private readonly ConcurrentDictionary<string, long> _revoked = new(StringComparer.Ordinal);

    public bool IsRevoked(string jti) => _revoked.ContainsKey(jti);

    /// <summary>Adds a revocation made elsewhere (another instance) to this instance's set; the database already has it.</summary>
    public void Remember(string jti, long expiresAt) => _revoked[jti] = expiresAt;

    public async Task RevokeAsync(string jti, DateTimeOffset expiresAt)
    {
        await store.RevokeTokenAsync(jti, expiresAt);
        _revoked[jti] = expiresAt.ToUnixTimeSeconds();
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        foreach (var (key, expiry) in _revoked)
        {
            if (expiry < now)
            {
                _revoked.TryRemove(key, out _);
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (jti, expiresAt) in await reader.GetRevokedTokensAsync(time.GetUtcNow().ToUnixTimeSeconds()))
        {
            _revoked[jti] = expiresAt;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
