using Tally.Testing;

namespace Tally.Server.Tests.Infrastructure;

/// <summary>
/// Tally on the embedded default (SQLite in a private temp folder, in-process bus) with test-friendly settings.
/// Subclasses or <see cref="WithSettings"/> swap only configuration, never the handlers.
/// </summary>
public class TallyAppFactory(IDictionary<string, string?> overrides) : TallyTestHost("tally-tests", AdminSecret, [], overrides)
{
    public const string AdminSecret = "test-admin-secret";

    public TallyAppFactory() : this(new Dictionary<string, string?>())
    {
    }

    public static TallyAppFactory WithSettings(params (string Key, string? Value)[] settings) =>
        new(settings.ToDictionary(s => s.Key, s => s.Value));

    /// <summary>A client of the process that runs the command handlers: this one, on the embedded default.</summary>
    public HttpClient CreateWorkerClient() => CreateClient();
}
