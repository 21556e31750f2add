using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Tally.Domain;
using Tally.Server.Bus;
using Tally.Server.Features.Auth;
using Tally.Server.Http;
using Tally.Server.Options;
using Tally.Server.Storage;

namespace Tally.Server.Features.Transfers;

public sealed record TransferRequest(
    JsonElement? ToAccountNumber,
    JsonElement? ToUsername,
    JsonElement? ToPhone,
    JsonElement? Amount,
    JsonElement? Note,
    JsonElement? ClientRef,
    JsonElement? Instant);

public sealed record ResolveRequest(JsonElement? TransferId, JsonElement? ClientRef);

public static class TransferApi
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    public static IEndpointRouteBuilder MapTransferApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var group = app.MapGroup("/api/transfer").WithTags("Transfer");
        group.MapAreaHealth("transfer");
        var session = group.MapGroup("").RequireSession();
        session.MapPost("/transfer", TransferAsync);
        session.MapPost("/confirm", (ResolveRequest? body, ClaimsPrincipal principal, ICommandBus bus, CancellationToken ct) => ResolveAsync(body, principal, bus, confirm: true, ct));
        session.MapPost("/cancel", (ResolveRequest? body, ClaimsPrincipal principal, ICommandBus bus, CancellationToken ct) => ResolveAsync(body, principal, bus, confirm: false, ct));
        session.MapGet("/{transferId:long}", GetAsync);
        return app;
    }

    internal static async Task<Results<Ok<TransferView>, ProblemHttpResult>> TransferAsync(
        TransferRequest? body,
        [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey,
        ClaimsPrincipal principal,
        HttpContext http,
        ICommandBus bus,
        IOptions<TransferOptions> options,
        CancellationToken cancellationToken)
    {
        if (body is null)
        {
            return Problems.BadRequest(ErrorCodes.MissingBody, "Send the transfer as a JSON body.");
        }
        if (!body.Amount.TryGetAmount(options.Value.MaxAmount, out var amount))
        {
            return Problems.BadRequest(ErrorCodes.InvalidAmount, $"amount must be a whole number of minor units from 1 to {options.Value.MaxAmount}.");
        }
        if (!body.ToAccountNumber.TryGetString(out var toAccount) || !body.ToUsername.TryGetString(out var toUsername) || !body.ToPhone.TryGetString(out var toPhone))
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
        if (!body.Note.TryGetString(out var note) || !TransferText.IsValidNote(note))
        {
            return Problems.BadRequest(ErrorCodes.InvalidNote, $"note is text of at most {TransferText.MaxNoteLength} characters.");
        }
        if (!body.ClientRef.TryGetString(out var clientRef))
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
        if (!body.Instant.TryGetBool(true, out var instant))
        {
            return Problems.BadRequest(ErrorCodes.InvalidRequest, "instant must be true or false.");
        }

        var outcome = await bus.SendAsync(
            new MakeTransfer(principal.GetUserId(), toAccount, toUsername, toPhone, amount, string.IsNullOrEmpty(note) ? null : note, clientRef, instant),
            cancellationToken);
        return ToResult(outcome, http);
    }

    internal static async Task<Results<Ok<TransferView>, ProblemHttpResult>> ResolveAsync(
        ResolveRequest? body, ClaimsPrincipal principal, ICommandBus bus, bool confirm, CancellationToken cancellationToken)
    {
        long? transferId = null;
        string? clientRef = null;
        if (body is not null && !body.TransferId.IsAbsent())
        {
            if (!body.TransferId.TryGetId(out var id))
            {
                return Problems.BadRequest(ErrorCodes.InvalidTransfer, "transfer_id must be a positive whole number.");
            }
            transferId = id;
        }
        else if (body is not null && (!body.ClientRef.TryGetString(out clientRef) || !TransferText.IsValidClientRef(clientRef)))
        {
            return Problems.BadRequest(ErrorCodes.InvalidClientRef, $"client_ref is 1 to {TransferText.MaxClientRefLength} characters.");
        }
        if (transferId is null && clientRef is null)
        {
            return Problems.BadRequest(ErrorCodes.InvalidTransfer, "Send transfer_id or client_ref.");
        }
        var outcome = await bus.SendAsync(new ResolveTransfer(principal.GetUserId(), transferId, clientRef, confirm), cancellationToken);
        return ToResult(outcome, http: null);
    }

    internal static async Task<Results<Ok<TransferView>, ProblemHttpResult>> GetAsync(long transferId, ClaimsPrincipal principal, ILedgerReader reader)
    {
        var userId = principal.GetUserId();
        return await reader.GetTransferAsync(transferId) is { } transfer && (transfer.FromUserId == userId || transfer.ToUserId == userId)
            ? TypedResults.Ok(transfer)
            : Problems.Create(StatusCodes.Status404NotFound, ErrorCodes.TransferNotFound, "No such transfer.");
    }

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
