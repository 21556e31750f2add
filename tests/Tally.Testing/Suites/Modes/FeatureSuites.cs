using Tally.Testing.Suites.Features;
using Tally.Testing.Suites.Security;

// The functional and hostile-input suites of Tally.Testing in the mode of a test project.
// xunit runs only the test classes of the test assembly itself, and a generic suite is one only once it is closed,
// so each mode needs sealed classes of its own. They are written once here, against ModeApp: each test project that
// runs these suites compiles this file (Tally.Testing does not) and sets ModeApp to its mode's fixture.
namespace Tally.Testing.Suites.Modes;

public sealed class AccountApiTests(ModeApp app) : AccountApiTests<ModeApp>(app);

public sealed class AdminApiTests(ModeApp app) : AdminApiTests<ModeApp>(app);

public sealed class AuthApiTests(ModeApp app) : AuthApiTests<ModeApp>(app);

public sealed class NotificationApiTests(ModeApp app) : NotificationApiTests<ModeApp>(app);

public sealed class OperationsTests(ModeApp app) : OperationsTests<ModeApp>(app);

public sealed class RequestIdTests(ModeApp app) : RequestIdTests<ModeApp>(app);

public sealed class TransferApiTests(ModeApp app) : TransferApiTests<ModeApp>(app);

[Collection(SuiteCollections.TimingSensitive)]
public sealed class WebSocketTests(ModeApp app) : WebSocketTests<ModeApp>(app);

public sealed class HostileInputTests(HostileFixture<ModeApp> fixture) : HostileInputTests<ModeApp>(fixture);
