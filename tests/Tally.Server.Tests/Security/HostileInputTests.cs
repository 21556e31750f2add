using Tally.Testing.Suites.Security;

namespace Tally.Server.Tests.Security;

// The hostile-input suite of Tally.Testing, on the embedded default.
public sealed class HostileInputTests(HostileFixture<SharedTallyApp> fixture) : HostileInputTests<SharedTallyApp>(fixture);
