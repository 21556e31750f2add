using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Tally.Server.Features.Accounts;

public static class AdminApi
{
    public const string SecretHeader = "X-Admin-Secret";

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var group = app.MapGroup("/api/account/admin").WithTags("Admin").AddEndpointFilter(RequireAdminSecret)
            .WithMetadata(new AdminSecretMetadata())
            .ProducesServerErrors()
            .ProducesErrors(StatusCodes.Status403Forbidden, ErrorCodes.AdminDisabled, ErrorCodes.AdminForbidden);
        group.MapGet("/stats", async (ILedgerReader reader) => TypedResults.Ok(await reader.GetStatsAsync()))
            .WithName("adminStats")
            .WithSummary("Totals: users, balances, transfers, notifications");
        group.MapGet("/users", UsersAsync)
            .WithName("adminListUsers")
            .WithSummary("Users, newest first")
            .ProducesErrors(StatusCodes.Status400BadRequest, ErrorCodes.InvalidPage, ErrorCodes.InvalidRequest);
        group.MapGet("/users/{id:long}", UserAsync)
            .WithName("adminGetUser")
            .WithSummary("A user with their last 20 transfers")
            .ProducesErrors(StatusCodes.Status404NotFound, ErrorCodes.UserNotFound);
        group.MapGet("/transfers", TransfersAsync)
            .WithName("adminListTransfers")
            .WithSummary("Transfers, newest first")
            .ProducesErrors(StatusCodes.Status400BadRequest, ErrorCodes.InvalidPage);
        group.MapGet("/notifications", NotificationsAsync)
            .WithName("adminListNotifications")
            .WithSummary("Notifications, newest first")
            .ProducesErrors(StatusCodes.Status400BadRequest, ErrorCodes.InvalidPage, ErrorCodes.InvalidRequest);
        group.MapGet("/audit", async (ILedgerReader reader) => TypedResults.Ok(await reader.AuditAsync()))
            .WithName("adminAudit")
            .WithSummary("The money audit")
            .WithDescription("ok is true when the ledger sums to 0, no user balance is negative, and every balance replays from its transfers.");
        return app;
    }

    internal static async Task<Results<Ok<AdminUserPage>, ProblemHttpResult>> UsersAsync(string? page, string? size, string? search, ILedgerReader reader)
    {
        if (Paging.Parse(page, size) is not { } paging)
        {
            return InvalidPage();
        }
        var term = search?.Trim();
        if (term is { Length: > 100 })
        {
            return Problems.BadRequest(ErrorCodes.InvalidRequest, "search is at most 100 characters.");
        }
        if (term is not null && term.Any(char.IsControl))
        {
            return Problems.BadRequest(ErrorCodes.InvalidRequest, "search may not hold control characters.");
        }
        return TypedResults.Ok(await reader.GetUsersAsync(paging.Page, paging.Size, string.IsNullOrEmpty(term) ? null : term));
    }

    internal static async Task<Results<Ok<AdminUserDetail>, ProblemHttpResult>> UserAsync(long id, ILedgerReader reader) =>
        await reader.GetUserDetailAsync(id) is { } user
            ? TypedResults.Ok(user)
            : Problems.Create(StatusCodes.Status404NotFound, ErrorCodes.UserNotFound, "No user has this id.");

    internal static async Task<Results<Ok<AdminTransferPage>, ProblemHttpResult>> TransfersAsync(string? page, string? size, ILedgerReader reader) =>
        Paging.Parse(page, size) is { } paging ? TypedResults.Ok(await reader.GetTransfersAsync(paging.Page, paging.Size)) : InvalidPage();

    internal static async Task<Results<Ok<AdminNotificationPage>, ProblemHttpResult>> NotificationsAsync(string? page, string? size, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "user_id")] string? userIdText, ILedgerReader reader)
    {
        if (Paging.Parse(page, size) is not { } paging)
        {
            return InvalidPage();
        }
        long? userId = null;
        if (!string.IsNullOrEmpty(userIdText))
        {
            if (!long.TryParse(userIdText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed < 1)
            {
                return Problems.BadRequest(ErrorCodes.InvalidRequest, "user_id must be a positive whole number.");
            }
            userId = parsed;
        }
        return TypedResults.Ok(await reader.GetAllNotificationsAsync(paging.Page, paging.Size, userId));
    }

    private static ProblemHttpResult InvalidPage() =>
        Problems.BadRequest(ErrorCodes.InvalidPage, "page must be a whole number from 1, and size from 1 to 100.");

    private static async ValueTask<object?> RequireAdminSecret(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var configured = context.HttpContext.RequestServices.GetRequiredService<IOptions<AdminOptions>>().Value.Secret;
        if (string.IsNullOrEmpty(configured))
        {
            return Problems.Create(StatusCodes.Status403Forbidden, ErrorCodes.AdminDisabled, "The admin endpoints are off: no Admin:Secret is configured.");
        }
        var given = context.HttpContext.Request.Headers[SecretHeader].ToString();
        // Compare digests so that neither the content nor the length of the secret leaks through timing.
        var match = CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(given)),
            SHA256.HashData(Encoding.UTF8.GetBytes(configured)));
        if (!match)
        {
            return Problems.Create(StatusCodes.Status403Forbidden, ErrorCodes.AdminForbidden, "The X-Admin-Secret header is missing or wrong.");
        }
        return await next(context);
    }
}
