namespace Tally.Testing;

/// <summary>
/// Tally on the embedded default (SQLite in a private temp folder, in-process bus) with test-friendly settings.
/// Subclasses or <see cref="WithSettings"/> swap only configuration, never the handlers.
/// </summary>
public class EmbeddedTallyApp(IDictionary<string, string?> overrides) : TallyTestHost("tally-tests", TallyTestKit.AdminSecret, [], overrides)
{
    public EmbeddedTallyApp() : this(new Dictionary<string, string?>())
    {
    }

    public static EmbeddedTallyApp WithSettings(params (string Key, string? Value)[] settings) =>
        new(settings.ToDictionary(s => s.Key, s => s.Value));

    /// <summary>A client of the process that runs the command handlers: this one, on the embedded default.</summary>
    public HttpClient CreateWorkerClient() => CreateClient();
}

/// <summary>One embedded Tally shared by the tests of a class (xunit needs a fixture with a single public constructor).</summary>
public sealed class SharedTallyApp : EmbeddedTallyApp, ITallyMode
{
    static TallyTestHost ITallyMode.WithSettings(params (string Key, string? Value)[] settings) => WithSettings(settings);

    // No cache: the in-memory cache is this process's own memory, with nothing to reach.
    static IReadOnlyList<string> ITallyMode.ReadyDependencies => ["database", "bus"];
}
