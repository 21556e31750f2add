using Tally.Testing.Suites.Concurrency;

// The ledger load suite of Tally.Testing in the mode of a test project.
// xunit runs only the test classes of the test assembly itself, and a generic suite is one only once it is closed,
// so each mode needs sealed classes of its own. They are written once here, against ModeApp: each test project that
// runs these suites compiles this file (Tally.Testing does not) and sets ModeApp to its mode's fixture.
namespace Tally.Testing.Suites.Modes;

[CollectionDefinition(SuiteCollections.Concurrency, DisableParallelization = true)]
public sealed class ConcurrencyCollection : ICollectionFixture<LedgerLoad<ModeApp>>;

[Collection(SuiteCollections.Concurrency)]
public sealed class LedgerConcurrencyTests(LedgerLoad<ModeApp> load, ITestOutputHelper output) : LedgerConcurrencyTests<ModeApp>(load, output);
