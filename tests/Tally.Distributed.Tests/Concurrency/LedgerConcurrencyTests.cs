using Tally.Testing.Suites;
using Tally.Testing.Suites.Concurrency;
using Xunit.Abstractions;

namespace Tally.Distributed.Tests.Concurrency;

[CollectionDefinition(SuiteCollections.Concurrency, DisableParallelization = true)]
public sealed class ConcurrencyCollection : ICollectionFixture<LedgerLoad<SharedDistributedApp>>;

// The ledger load suite of Tally.Testing, in distributed mode (PostgreSQL, Redis through Sentinel, RabbitMQ; the worker a separate process).
[Collection(SuiteCollections.Concurrency)]
public sealed class LedgerConcurrencyTests(LedgerLoad<SharedDistributedApp> load, ITestOutputHelper output) : LedgerConcurrencyTests<SharedDistributedApp>(load, output);
