using Tally.Testing.Suites;
using Tally.Testing.Suites.Concurrency;
using Tally.Testing.Suites.Features;
using Tally.Testing.Suites.Security;

namespace Tally.Distributed.Tests;

// The suites of Tally.Testing, in distributed mode (PostgreSQL, Redis through Sentinel, RabbitMQ; the worker a separate process).
public sealed class AccountApiTests(SharedDistributedApp app) : AccountApiTests<SharedDistributedApp>(app);

public sealed class AdminApiTests(SharedDistributedApp app) : AdminApiTests<SharedDistributedApp>(app);

public sealed class AuthApiTests(SharedDistributedApp app) : AuthApiTests<SharedDistributedApp>(app);

public sealed class NotificationApiTests(SharedDistributedApp app) : NotificationApiTests<SharedDistributedApp>(app);

public sealed class OperationsTests(SharedDistributedApp app) : OperationsTests<SharedDistributedApp>(app);

public sealed class RequestIdTests(SharedDistributedApp app) : RequestIdTests<SharedDistributedApp>(app);

public sealed class TransferApiTests(SharedDistributedApp app) : TransferApiTests<SharedDistributedApp>(app);

[Collection(SuiteCollections.TimingSensitive)]
public sealed class WebSocketTests(SharedDistributedApp app) : WebSocketTests<SharedDistributedApp>(app);

public sealed class HostileInputTests(HostileFixture<SharedDistributedApp> fixture) : HostileInputTests<SharedDistributedApp>(fixture);

[CollectionDefinition(SuiteCollections.Concurrency, DisableParallelization = true)]
public sealed class ConcurrencyCollection : ICollectionFixture<LedgerLoad<SharedDistributedApp>>;

[Collection(SuiteCollections.Concurrency)]
public sealed class LedgerConcurrencyTests(LedgerLoad<SharedDistributedApp> load, ITestOutputHelper output) : LedgerConcurrencyTests<SharedDistributedApp>(load, output);
