using Microsoft.Extensions.Caching.Memory;

namespace Tally.Server.Storage;

/// <summary>
/// Who an account number names, and a user's name, for the transfer path. A user is never changed or removed once
/// registered, so what was found stays true for the life of the process: each transfer skips the two reads it
/// would otherwise make before its write. Only found users are kept (an account number that names nobody yet may
/// be registered a moment later), and the memory is bounded: the least recently used entries go first.
/// </summary>
public sealed class UserDirectory(ILedgerReader reader) : IDisposable
{
    public const int Capacity = 100_000;

    private readonly MemoryCache _entries = new(new MemoryCacheOptions { SizeLimit = Capacity, CompactionPercentage = 0.25 });

    private static readonly MemoryCacheEntryOptions s_entry = new() { Size = 1, SlidingExpiration = TimeSpan.FromHours(1) };

    public async Task<Recipient?> FindByAccountNumberAsync(string accountNumber)
    {
        var key = "n:" + accountNumber;
        if (_entries.TryGetValue(key, out Recipient? known))
        {
            return known;
        }
        var found = await reader.FindByAccountNumberAsync(accountNumber);
        Remember(found);
        return found;
    }

    public async Task<Recipient?> GetAsync(long userId)
    {
        if (_entries.TryGetValue(userId, out Recipient? known))
        {
            return known;
        }
        var user = await reader.GetUserAsync(userId);
        var found = user is null ? null : new Recipient(user.Id, user.Username, user.AccountNumber);
        Remember(found);
        return found;
    }

    /// <summary>Keeps a user found by any other lookup (username, phone) too.</summary>
    public void Remember(Recipient? user)
    {
        if (user is not null)
        {
            _entries.Set("n:" + user.AccountNumber, user, s_entry);
            _entries.Set(user.Id, user, s_entry);
        }
    }

    public void Dispose() => _entries.Dispose();
}
