using Tally.Testing.Suites;
using Tally.Testing.Suites.Concurrency;
using Tally.Testing.Suites.Features;
using Tally.Testing.Suites.Security;

namespace Tally.Server.Tests;

// The suites of Tally.Testing, on the embedded default.
public sealed class AccountApiTests(SharedTallyApp app) : AccountApiTests<SharedTallyApp>(app);

public sealed class AdminApiTests(SharedTallyApp app) : AdminApiTests<SharedTallyApp>(app);

public sealed class AuthApiTests(SharedTallyApp app) : AuthApiTests<SharedTallyApp>(app);

public sealed class NotificationApiTests(SharedTallyApp app) : NotificationApiTests<SharedTallyApp>(app);

public sealed class OperationsTests(SharedTallyApp app) : OperationsTests<SharedTallyApp>(app);

public sealed class RequestIdTests(SharedTallyApp app) : RequestIdTests<SharedTallyApp>(app);

public sealed class TransferApiTests(SharedTallyApp app) : TransferApiTests<SharedTallyApp>(app);

[Collection(SuiteCollections.TimingSensitive)]
public sealed class WebSocketTests(SharedTallyApp app) : WebSocketTests<SharedTallyApp>(app);

public sealed class HostileInputTests(HostileFixture<SharedTallyApp> fixture) : HostileInputTests<SharedTallyApp>(fixture);

[CollectionDefinition(SuiteCollections.Concurrency, DisableParallelization = true)]
public sealed class ConcurrencyCollection : ICollectionFixture<LedgerLoad<SharedTallyApp>>;

[Collection(SuiteCollections.Concurrency)]
public sealed class LedgerConcurrencyTests(LedgerLoad<SharedTallyApp> load, ITestOutputHelper output) : LedgerConcurrencyTests<SharedTallyApp>(load, output);
