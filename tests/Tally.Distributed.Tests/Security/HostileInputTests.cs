using Tally.Testing.Suites.Security;

namespace Tally.Distributed.Tests.Security;

// The hostile-input suite of Tally.Testing, in distributed mode (PostgreSQL, Redis through Sentinel, RabbitMQ; the worker a separate process).
public sealed class HostileInputTests(HostileFixture<SharedDistributedApp> fixture) : HostileInputTests<SharedDistributedApp>(fixture);
