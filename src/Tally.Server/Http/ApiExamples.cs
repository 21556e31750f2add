using Tally.Server.Features.Transfers;

namespace Tally.Server.Http;

/// <summary>One example per request and response type, shown in the OpenAPI document and on /docs.</summary>
internal static class ApiExamples
{
    private const string Session = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    private const string Created = "2026-11-23T12:00:00.000000Z";

    // Alice sends, Bob receives: every example shows the same two accounts.
    private static readonly AdminUser Alice = new(1, "5550001111", "Alice", "012345678901", 95000);
    private static readonly AccountLookupView Bob = new("098765432109", "Bob");
    private static readonly AdminTransfer AdminLunch = new(42, 1, "Alice", 2, "Bob", 5000, TransferStatus.Success, Created);
    private static readonly AdminNotification AdminReceived = new(7, 2, "Bob", "You received 5000 from Alice", false, Created);
    private static readonly AdminUserTransfer UserLunch = new(42, 1, 2, 5000, "out", Created);
    private static readonly TransactionItem Lunch = new(42, "out", Bob.AccountNumber, "Bob", 5000, TransferStatus.Success, "lunch", Created);

    private static readonly Dictionary<Type, object> Examples = new()
    {
        [typeof(RegisterRequest)] = new RegisterRequest("5550001111", "Alice", "alice-secret-1"),
        [typeof(RegisterResponse)] = new RegisterResponse(1, "55******11", "Alice", Alice.AccountNumber, 100000),
        [typeof(LoginRequest)] = new LoginRequest("alice-secret-1", "5550001111"),
        [typeof(LoginResponse)] = new LoginResponse(Session, "bearer", 86400, "55******11", "Alice", Alice.AccountNumber, 100000),
        [typeof(TokenRequest)] = new TokenRequest("5550001111", "alice-secret-1", "password"),
        [typeof(TokenResponse)] = new TokenResponse(Session, "bearer", 86400),
        [typeof(AreaHealth)] = new AreaHealth("healthy", "transfer"),
        [typeof(UserView)] = new UserView(1, "5550001111", "Alice", Alice.AccountNumber, 95000),
        [typeof(BalanceView)] = new BalanceView(95000, 94300),
        [typeof(AccountLookupView)] = Bob,
        [typeof(TransactionItem)] = Lunch,
        [typeof(TransactionPage)] = new TransactionPage([Lunch], 1, 1, 20, 1),
        [typeof(TransferRequest)] = new TransferRequest(5000, Bob.AccountNumber, Note: "lunch"),
        [typeof(ResolveRequest)] = new ResolveRequest(43),
        [typeof(TransferView)] = new TransferView(42, TransferStatus.Success, "Alice", "Bob", Bob.AccountNumber, 5000, "lunch", "lunch-2026-11-23", null, Created),
        [typeof(NotificationView)] = new NotificationView(7, "transfer_received", "You received 5000 from Alice", false, 42, 5000, Created),
        [typeof(AdminStats)] = new AdminStats(2, 200000, 3, 10000, 4),
        [typeof(AdminUser)] = Alice,
        [typeof(AdminUserPage)] = new AdminUserPage([Alice], 1, 1, 20, 1),
        [typeof(AdminUserTransfer)] = UserLunch,
        [typeof(AdminUserDetail)] = new AdminUserDetail(1, "5550001111", "Alice", Alice.AccountNumber, 95000, [UserLunch]),
        [typeof(AdminTransfer)] = AdminLunch,
        [typeof(AdminTransferPage)] = new AdminTransferPage([AdminLunch], 1, 1, 20, 1),
        [typeof(AdminNotification)] = AdminReceived,
        [typeof(AdminNotificationPage)] = new AdminNotificationPage([AdminReceived], 1, 1, 20, 1),
        [typeof(LedgerAudit)] = new LedgerAudit(true, 0, 3, 200000, -200000, 700, 0, 0),
    };

    public static object? For(Type type) => Examples.GetValueOrDefault(type);
}
