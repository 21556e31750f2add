using System.Security.Cryptography;
using System.Text;

namespace Tally.Server.Features.Auth;

/// <summary>
/// PBKDF2-HMAC-SHA256 with a random 16-byte salt; the cost is stored with each hash so it can rise over time.
/// Hashing is the one CPU-bound step of a request, so at most <see cref="AuthOptions.HashingConcurrency"/> hashes
/// run at once (half the cores by default) and the rest wait their turn asynchronously: a login or registration
/// storm can take only those cores, never the ones transfers and reads run on. The wait shows in the login
/// bulkhead's latency, so its adaptive limit shrinks and the excess is refused (503 OVERLOADED).
/// </summary>
public sealed class PasswordHasher(IOptions<AuthOptions> options) : IDisposable
{
    private const string Scheme = "pbkdf2-sha256";
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    private readonly int _iterations = options.Value.PasswordIterations;
    private readonly Lazy<string> _dummy = new(() => Hash("not-a-real-password", options.Value.PasswordIterations));
    private readonly SemaphoreSlim _cores = new(options.Value.HashingConcurrency, options.Value.HashingConcurrency);
    private readonly int _concurrency = options.Value.HashingConcurrency;

    /// <summary>Hashes computing now (at most <see cref="AuthOptions.HashingConcurrency"/>).</summary>
    public int Running => _concurrency - _cores.CurrentCount;

    public Task<string> HashAsync(string password, CancellationToken cancellationToken) =>
        OnHashingCoreAsync(() => Hash(password, _iterations), cancellationToken);

    public Task<bool> VerifyAsync(string password, string stored, CancellationToken cancellationToken) =>
        OnHashingCoreAsync(() => Verify(password, stored), cancellationToken);

    /// <summary>Spends the same time as a real check, so an unknown phone can't be told apart by timing.</summary>
    public Task VerifyDummyAsync(string password, CancellationToken cancellationToken) =>
        OnHashingCoreAsync(() => Verify(password, _dummy.Value), cancellationToken);

    private async Task<T> OnHashingCoreAsync<T>(Func<T> hash, CancellationToken cancellationToken)
    {
        await _cores.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return hash();
        }
        finally
        {
            _cores.Release();
        }
    }

    private static bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations))
        {
            return false;
        }
        var salt = Convert.FromBase64String(parts[2]);
        var expected = Convert.FromBase64String(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static string Hash(string password, int iterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"{Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    public void Dispose() => _cores.Dispose();
}
