namespace Tally.Testing.Suites;

/// <summary>
/// The names of the xunit collections that the shared suites run in. xunit finds a collection's definition only in
/// the test assembly, so each test project defines them (without parallelization) for its mode.
/// </summary>
public static class SuiteCollections
{
    /// <summary>Tests that assert a time bound run in this collection, alone, after the parallel ones.</summary>
    public const string TimingSensitive = "Timing-sensitive";

    /// <summary>The ledger load owns the machine while it runs.</summary>
    public const string Concurrency = "Concurrency";
}
