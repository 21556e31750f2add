using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Tally.Server.Features.Notifications;

public static class NotificationApi
{
    public const int ListLimit = 50;

    public static IEndpointRouteBuilder MapNotificationApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var session = app.MapSessionArea("/api/notifications", "Notifications", "notification");
        session.MapGet("/notifications", async (ClaimsPrincipal principal, ILedgerReader reader) =>
            TypedResults.Ok(await reader.GetNotificationsAsync(principal.GetUserId(), ListLimit)))
            .WithName("listNotifications")
            .WithSummary($"The user's last {ListLimit} notifications, newest first");
        session.MapPost("/{id:long}/read", MarkReadAsync)
            .WithName("markNotificationRead")
            .WithSummary("Mark a notification read")
            .ProducesErrors(StatusCodes.Status404NotFound, ErrorCodes.NotificationNotFound);

        app.Map("/ws", ServeSocketAsync).RequireSession().WithTags("Notifications").ExcludeFromDescription();
        return app;
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> MarkReadAsync(long id, ClaimsPrincipal principal, ILedgerStore store) =>
        await store.MarkNotificationReadAsync(principal.GetUserId(), id)
            ? TypedResults.NoContent()
            : Problems.Create(StatusCodes.Status404NotFound, ErrorCodes.NotificationNotFound, "No such notification.");

    private static async Task ServeSocketAsync(HttpContext http, NotificationHub hub)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await Problems.BadRequest(ErrorCodes.InvalidRequest, "/ws takes a WebSocket upgrade.").ExecuteAsync(http);
            return;
        }
        await hub.ServeAsync(http.User.GetUserId(), http.WebSockets.AcceptWebSocketAsync, http.RequestAborted);
    }
}
