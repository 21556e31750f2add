using Tally.Server.Cache;

namespace Tally.Server.Options;

/// <summary>Where the ledger lives: <c>Storage:Provider</c>.</summary>
public enum StorageProvider
{
    Sqlite,
    Postgres,
}

/// <summary>Where the cache, revocations, login counters and notification fan-out live: in memory, or Redis when <c>Cache:Redis</c> is set.</summary>
public enum CacheProvider
{
    InMemory,
    Redis,
}

/// <summary>How writes reach the workers: <c>Bus:Transport</c>.</summary>
public enum BusTransport
{
    InProcess,
    RabbitMq,
}

/// <summary>What this process does: <c>Role</c>.</summary>
public enum TallyRole
{
    All,
    Api,
    Worker,
}

public static class TallyRoles
{
    public static bool ServesApi(this TallyRole role) => role is TallyRole.All or TallyRole.Api;

    public static bool RunsWorkers(this TallyRole role) => role is TallyRole.All or TallyRole.Worker;
}

/// <summary>
/// The providers this host is made of and its role, read from configuration once, while the host is built, and
/// validated there: each module then registers only what its provider needs. Settings must therefore be in place
/// before the builder reads them (appsettings, environment, command line; a test host uses <c>UseSetting</c>).
/// </summary>
public sealed record TallyComposition(StorageProvider Storage, CacheProvider Cache, BusTransport Bus, TallyRole Role)
{
    public const string StorageKey = StorageOptions.Section + ":Provider";
    public const string CacheKey = CacheOptions.Section + ":Redis";
    public const string BusKey = BusOptions.Section + ":Transport";

    /// <summary>The embedded default: SQLite, in memory, in process, api and worker in one process.</summary>
    private static readonly TallyComposition s_embedded = new(StorageProvider.Sqlite, CacheProvider.InMemory, BusTransport.InProcess, TallyRole.All);

    public bool ServesApi => Role.ServesApi();

    /// <summary>Reads and validates the choice; every problem is named in one <see cref="OptionsValidationException"/>.</summary>
    public static TallyComposition Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        var composition = new TallyComposition(
            Choose(configuration, StorageKey, s_embedded.Storage, errors),
            string.IsNullOrWhiteSpace(configuration[CacheKey]) ? CacheProvider.InMemory : CacheProvider.Redis,
            Choose(configuration, BusKey, s_embedded.Bus, errors),
            Choose(configuration, RoleOptions.Key, s_embedded.Role, errors));
        if (composition.Bus == BusTransport.InProcess && composition.Role != TallyRole.All && errors.Count == 0)
        {
            errors.Add("Bus:Transport InProcess runs api and worker in one process, so it requires Role=all; use Bus:Transport=RabbitMq for Role=api or Role=worker.");
        }
        return errors.Count == 0 ? composition : throw new OptionsValidationException(nameof(TallyComposition), typeof(TallyComposition), errors);
    }

    private static T Choose<T>(IConfiguration configuration, string key, T fallback, List<string> errors)
        where T : struct, Enum
    {
        var text = configuration[key]?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }
        // By name only: Enum.TryParse would also take "1" or "0x2".
        if (Enum.GetNames<T>().FirstOrDefault(name => name.Equals(text, StringComparison.OrdinalIgnoreCase)) is { } name)
        {
            return Enum.Parse<T>(name);
        }
        errors.Add($"{key} is '{text}'; it must be {string.Join(" or ", Enum.GetNames<T>())}.");
        return fallback;
    }
}

public static class CompositionValidation
{
    /// <summary>
    /// Fails validation when <paramref name="key"/> no longer says what the host chose from it while it was built: the
    /// modules registered only what that choice needs, so a later change can't take effect.
    /// </summary>
    public static OptionsBuilder<TOptions> ValidateUnchanged<TOptions>(this OptionsBuilder<TOptions> options, string key, object chosen, Func<TOptions, bool> unchanged)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Validate(unchanged, $"{key} changed after the host chose {chosen}: it must be set before the host is built.");
    }
}
