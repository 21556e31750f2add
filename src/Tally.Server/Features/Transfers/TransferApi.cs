using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Tally.Server.Features.Transfers;

/// <summary>A transfer to one recipient: by account number, else by username, else by phone.</summary>
public sealed record TransferRequest(
    [property: Description("Whole minor units (cents), from 1 to the configured maximum; a float, a string or an overflow gets INVALID_AMOUNT.")]
    long Amount,
    [property: Description("12 digits; used first when given.")]
    [property: RegularExpression("^[0-9]{12}$")]
    string? ToAccountNumber = null,
    [property: Description("Used when no account number is given; must name exactly one user.")]
    string? ToUsername = null,
    [property: Description("Used when neither account number nor username is given.")]
    string? ToPhone = null,
    [property: MaxLength(TransferText.MaxNoteLength)]
    string? Note = null,
    [property: Description("The sender's key for this transfer, unique per sender; the Idempotency-Key header, when given, is the client_ref.")]
    [property: StringLength(TransferText.MaxClientRefLength, MinimumLength = 1)]
    string? ClientRef = null,
    [property: Description("true moves the money at once (SUCCESS); false places a hold (PENDING) to confirm or cancel.")]
    bool Instant = true)
{
    /// <summary>The one check of a transfer body; the client_ref of the result is the Idempotency-Key when one was sent.</summary>
    public static bool TryRead(
        JsonBody body, string? idempotencyKey, long maxAmount, [NotNullWhen(true)] out TransferRequest? request, [NotNullWhen(false)] out ProblemHttpResult? problem)
    {
        request = null;
        problem = Check(body, idempotencyKey, maxAmount, ref request);
        return problem is null;
    }

    private static ProblemHttpResult? Check(JsonBody body, string? idempotencyKey, long maxAmount, ref TransferRequest? request)
    {
        if (!body.IsPresent)
        {
            return Problems.BadRequest(ErrorCodes.MissingBody, "Send the transfer as a JSON body.");
        }
        if (!body.Field(nameof(Amount)).TryGetAmount(maxAmount, out var amount))
        {
            return Problems.BadRequest(ErrorCodes.InvalidAmount, $"amount must be a whole number of minor units from 1 to {maxAmount}.");
        }
        if (!body.Field(nameof(ToAccountNumber)).TryGetString(out var toAccount)
            || !body.Field(nameof(ToUsername)).TryGetString(out var toUsername)
            || !body.Field(nameof(ToPhone)).TryGetString(out var toPhone))
        {
            return Problems.BadRequest(ErrorCodes.InvalidAccount, "The recipient must be given as a string.");
        }
        toUsername = string.IsNullOrWhiteSpace(toUsername) ? null : toUsername.Trim();
        toAccount = string.IsNullOrEmpty(toAccount) ? null : toAccount;
        toPhone = string.IsNullOrEmpty(toPhone) ? null : toPhone;
        if (toAccount is null && toUsername is null && toPhone is null)
        {
            return Problems.BadRequest(ErrorCodes.MissingRecipient, "Name a recipient: to_account_number, to_username or to_phone.");
        }
        if (!body.Field(nameof(Note)).TryGetString(out var note) || !TransferText.IsValidNote(note))
        {
            return Problems.BadRequest(ErrorCodes.InvalidNote, $"note is text of at most {TransferText.MaxNoteLength} characters.");
        }
        if (!body.Field(nameof(ClientRef)).TryGetString(out var clientRef))
        {
            return Problems.BadRequest(ErrorCodes.InvalidClientRef, "client_ref must be a string.");
        }
        if (idempotencyKey is not null)
        {
            if (clientRef is not null && clientRef != idempotencyKey)
            {
                return Problems.BadRequest(ErrorCodes.InvalidClientRef, "Idempotency-Key and client_ref differ; send one of them.");
            }
            clientRef = idempotencyKey;
        }
        if (!TransferText.IsValidClientRef(clientRef))
        {
            return Problems.BadRequest(ErrorCodes.InvalidClientRef, $"client_ref (or Idempotency-Key) is 1 to {TransferText.MaxClientRefLength} characters.");
        }
        if (!body.Field(nameof(Instant)).TryGetBool(true, out var instant))
        {
            return Problems.BadRequest(ErrorCodes.InvalidRequest, "instant must be true or false.");
        }
        request = new TransferRequest(amount, toAccount, toUsername, toPhone, string.IsNullOrEmpty(note) ? null : note, clientRef, instant);
        return null;
    }
}

/// <summary>Names a pending transfer of the sender: by transfer_id, else by client_ref.</summary>
public sealed record ResolveRequest(
    [property: Range(1, long.MaxValue)]
    long? TransferId = null,
    [property: Description("Used when no transfer_id is given.")]
    [property: StringLength(TransferText.MaxClientRefLength, MinimumLength = 1)]
    string? ClientRef = null)
{
    public static bool TryRead(JsonBody body, [NotNullWhen(true)] out ResolveRequest? request, [NotNullWhen(false)] out ProblemHttpResult? problem)
    {
        request = null;
        problem = null;
        long? transferId = null;
        string? clientRef = null;
        var idField = body.Field(nameof(TransferId));
        if (!idField.IsAbsent())
        {
            if (!idField.TryGetId(out var id))
            {
                problem = Problems.BadRequest(ErrorCodes.InvalidTransfer, "transfer_id must be a positive whole number.");
                return false;
            }
            transferId = id;
        }
        else if (body.IsPresent && (!body.Field(nameof(ClientRef)).TryGetString(out clientRef) || !TransferText.IsValidClientRef(clientRef)))
        {
            problem = Problems.BadRequest(ErrorCodes.InvalidClientRef, $"client_ref is 1 to {TransferText.MaxClientRefLength} characters.");
            return false;
        }
        if (transferId is null && clientRef is null)
        {
            problem = Problems.BadRequest(ErrorCodes.InvalidTransfer, "Send transfer_id or client_ref.");
            return false;
        }
        request = new ResolveRequest(transferId, clientRef);
        return true;
    }
}

public static class TransferApi
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    public static IEndpointRouteBuilder MapTransferApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var session = app.MapSessionArea("/api/transfer", "Transfer", "transfer");
        session.MapPost("/transfer", TransferAsync)
            .WithName("createTransfer")
            .WithSummary("Send money")
            .WithDescription("instant (the default) moves the money at once; instant false places a hold until hold_until, "
                + "which the sender confirms or cancels, or which expires. Idempotent by client_ref or the Idempotency-Key header.")
            .WithMetadata(new IdempotentMetadata())
            .AcceptsJson<TransferRequest>()
            .ProducesErrors(
                StatusCodes.Status400BadRequest,
                ErrorCodes.MissingBody, ErrorCodes.InvalidAmount, ErrorCodes.InvalidAccount, ErrorCodes.MissingRecipient, ErrorCodes.InvalidNote,
                ErrorCodes.InvalidClientRef, ErrorCodes.SelfTransfer, ErrorCodes.AmbiguousUsername, ErrorCodes.InsufficientFunds)
            .ProducesErrors(StatusCodes.Status404NotFound, ErrorCodes.AccountNotFound)
            .ProducesErrors(StatusCodes.Status409Conflict, ErrorCodes.DuplicateClientRef)
            .ProducesCommandErrors();
        session.MapPost("/confirm", (JsonBody body, ClaimsPrincipal principal, ICommandBus bus, CancellationToken ct) => ResolveAsync(body, principal, bus, confirm: true, ct))
            .WithName("confirmTransfer")
            .WithSummary("Confirm a hold")
            .WithDescription("Moves the held money; the transfer becomes SUCCESS. Only its sender may, and only while it is PENDING.")
            .ProducesResolveErrors();
        session.MapPost("/cancel", (JsonBody body, ClaimsPrincipal principal, ICommandBus bus, CancellationToken ct) => ResolveAsync(body, principal, bus, confirm: false, ct))
            .WithName("cancelTransfer")
            .WithSummary("Cancel a hold")
            .WithDescription("Releases the held money; the transfer becomes CANCELLED. Only its sender may, and only while it is PENDING.")
            .ProducesResolveErrors();
        session.MapGet("/{transferId:long}", GetAsync)
            .WithName("getTransfer")
            .WithSummary("A transfer")
            .WithDescription("Seen only by its sender or receiver; anyone else gets 404.")
            .ProducesErrors(StatusCodes.Status404NotFound, ErrorCodes.TransferNotFound);
        return app;
    }

    internal static async Task<Results<Ok<TransferView>, ProblemHttpResult>> TransferAsync(
        JsonBody body,
        [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey,
        ClaimsPrincipal principal,
        HttpContext http,
        ICommandBus bus,
        IOptions<TransferOptions> options,
        CancellationToken cancellationToken)
    {
        if (!TransferRequest.TryRead(body, idempotencyKey, options.Value.MaxAmount, out var request, out var problem))
        {
            return problem;
        }
        var outcome = await bus.SendAsync(
            new MakeTransfer(principal.GetUserId(), request.ToAccountNumber, request.ToUsername, request.ToPhone, request.Amount, request.Note, request.ClientRef, request.Instant),
            cancellationToken);
        return ToResult(outcome, http);
    }

    internal static async Task<Results<Ok<TransferView>, ProblemHttpResult>> ResolveAsync(
        JsonBody body, ClaimsPrincipal principal, ICommandBus bus, bool confirm, CancellationToken cancellationToken)
    {
        if (!ResolveRequest.TryRead(body, out var request, out var problem))
        {
            return problem;
        }
        var outcome = await bus.SendAsync(new ResolveTransfer(principal.GetUserId(), request.TransferId, request.ClientRef, confirm), cancellationToken);
        return ToResult(outcome, http: null);
    }

    internal static async Task<Results<Ok<TransferView>, ProblemHttpResult>> GetAsync(long transferId, ClaimsPrincipal principal, ILedgerReader reader)
    {
        var userId = principal.GetUserId();
        return await reader.GetTransferAsync(transferId) is { } transfer && (transfer.FromUserId == userId || transfer.ToUserId == userId)
            ? TypedResults.Ok(transfer)
            : Problems.Create(StatusCodes.Status404NotFound, ErrorCodes.TransferNotFound, "No such transfer.");
    }

    private static RouteHandlerBuilder ProducesResolveErrors(this RouteHandlerBuilder builder) =>
        builder
            .AcceptsJson<ResolveRequest>()
            .ProducesErrors(StatusCodes.Status400BadRequest, ErrorCodes.InvalidTransfer, ErrorCodes.InvalidClientRef)
            .ProducesErrors(StatusCodes.Status403Forbidden, ErrorCodes.NotOwner)
            .ProducesErrors(StatusCodes.Status404NotFound, ErrorCodes.TransferNotFound)
            .ProducesErrors(StatusCodes.Status409Conflict, ErrorCodes.InvalidState)
            .ProducesCommandErrors();

    private static Results<Ok<TransferView>, ProblemHttpResult> ToResult(Outcome<TransferResult> outcome, HttpContext? http)
    {
        if (outcome.Error is { } error)
        {
            return Problems.From(error);
        }
        var result = outcome.Value!;
        if (result.Replayed && http is not null)
        {
            http.Response.Headers[ReplayedHeader] = "true";
        }
        return TypedResults.Ok(result.Transfer);
    }
}
