using Tally.Testing.Suites;
using Tally.Testing.Suites.Concurrency;
using Xunit.Abstractions;

namespace Tally.Server.Tests.Concurrency;

[CollectionDefinition(SuiteCollections.Concurrency, DisableParallelization = true)]
public sealed class ConcurrencyCollection : ICollectionFixture<LedgerLoad<SharedTallyApp>>;

// The ledger load suite of Tally.Testing, on the embedded default.
[Collection(SuiteCollections.Concurrency)]
public sealed class LedgerConcurrencyTests(LedgerLoad<SharedTallyApp> load, ITestOutputHelper output) : LedgerConcurrencyTests<SharedTallyApp>(load, output);
