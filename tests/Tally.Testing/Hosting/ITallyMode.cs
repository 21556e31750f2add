namespace Tally.Testing;

/// <summary>
/// A mode of Tally for the shared suites (embedded, distributed): the suites are written once against this and
/// each test project derives one class per suite for its mode. Implemented by the mode's shared fixture.
/// </summary>
public interface ITallyMode
{
    /// <summary>A new host of this mode, with the given settings on top of the mode's own.</summary>
    static abstract TallyTestHost WithSettings(params (string Key, string? Value)[] settings);

    /// <summary>The dependencies that this mode's /ready checks.</summary>
    static abstract IReadOnlyList<string> ReadyDependencies { get; }

    /// <summary>A client of the process that runs the command handlers.</summary>
    HttpClient CreateWorkerClient();
}
