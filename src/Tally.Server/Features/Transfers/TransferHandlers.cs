using System.Security.Cryptography;
using System.Text;
using Tally.Server.Features.Notifications;

namespace Tally.Server.Features.Transfers;

/// <summary>Exactly one of the recipient fields is used: account number, then username, then phone.</summary>
public sealed record MakeTransfer(
    long SenderId,
    string? ToAccountNumber,
    string? ToUsername,
    string? ToPhone,
    long Amount,
    string? Note,
    string? ClientRef,
    bool Instant) : ICommand<Outcome<TransferResult>>;

public sealed record ResolveTransfer(long UserId, long? TransferId, string? ClientRef, bool Confirm) : ICommand<Outcome<TransferResult>>;

public sealed class MakeTransferHandler(
    ILedgerReader reader,
    UserDirectory directory,
    ILedgerStore store,
    INotificationPublisher notifications,
    TallyMetrics metrics,
    TimeProvider time,
    IOptions<TransferOptions> options) : ICommandHandler<MakeTransfer, Outcome<TransferResult>>
{
    public async Task<Outcome<TransferResult>> HandleAsync(MakeTransfer command, CommandContext context, CancellationToken cancellationToken)
    {
        if (!Money.IsValidAmount(command.Amount, options.Value.MaxAmount))
        {
            return DomainError.BadRequest(ErrorCodes.InvalidAmount, "The amount is not valid.");
        }
        var recipient = await ResolveRecipientAsync(command);
        if (recipient.Error is { } notFound)
        {
            return notFound;
        }
        var to = recipient.Value!;
        if (to.Id == command.SenderId)
        {
            return DomainError.BadRequest(ErrorCodes.SelfTransfer, "You cannot send money to yourself.");
        }
        var sender = await directory.GetAsync(command.SenderId);
        if (sender is null)
        {
            return new DomainError(ErrorCodes.Unauthenticated, StatusCodes.Status401Unauthorized, "The session's user no longer exists.");
        }

        var now = time.GetUtcNow();
        var outcome = await store.TransferAsync(new NewTransfer(
            command.SenderId, to, sender.Username, command.Amount, command.Note, command.ClientRef, command.Instant,
            RequestHash(to.Id, command), now, now.AddSeconds(options.Value.HoldSeconds)), context.InboxId);
        await TransferOutcomes.PublishAsync(outcome, metrics, notifications);
        return outcome;
    }

    private async Task<Outcome<Recipient>> ResolveRecipientAsync(MakeTransfer command)
    {
        Recipient? found;
        if (command.ToAccountNumber is not null)
        {
            if (!AccountNumber.IsValid(command.ToAccountNumber))
            {
                return DomainError.BadRequest(ErrorCodes.InvalidAccount, "An account number is 12 digits.");
            }
            found = await directory.FindByAccountNumberAsync(command.ToAccountNumber);
        }
        else if (command.ToUsername is not null)
        {
            var matches = Username.Normalize(command.ToUsername) is { } name ? await reader.FindByUsernameAsync(name) : [];
            if (matches.Count > 1)
            {
                return DomainError.BadRequest(ErrorCodes.AmbiguousUsername, "Several users share this username; send to an account number instead.");
            }
            found = matches.Count == 1 ? matches[0] : null;
            directory.Remember(found);
        }
        else if (command.ToPhone is not null)
        {
            found = Phone.IsValid(command.ToPhone) ? await reader.FindByPhoneAsync(command.ToPhone) : null;
            directory.Remember(found);
        }
        else
        {
            return DomainError.BadRequest(ErrorCodes.MissingRecipient, "Name a recipient: to_account_number, to_username or to_phone.");
        }
        return found is null
            ? DomainError.NotFound(ErrorCodes.AccountNotFound, "No account matches the recipient.")
            : Outcome<Recipient>.Ok(found);
    }

    // What makes a retry "the same request": recipient, amount, note and kind; the key itself is the client_ref.
    private static string RequestHash(long toId, MakeTransfer command) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Create(CultureInfo.InvariantCulture, $"{toId}|{command.Amount}|{command.Instant}|{command.Note}"))))[..32];
}

public sealed class ResolveTransferHandler(
    ILedgerStore store,
    INotificationPublisher notifications,
    TallyMetrics metrics,
    TimeProvider time) : ICommandHandler<ResolveTransfer, Outcome<TransferResult>>
{
    public async Task<Outcome<TransferResult>> HandleAsync(ResolveTransfer command, CommandContext context, CancellationToken cancellationToken)
    {
        var outcome = await store.ResolveHoldAsync(command.UserId, command.TransferId, command.ClientRef, command.Confirm, time.GetUtcNow(), context.InboxId);
        await TransferOutcomes.PublishAsync(outcome, metrics, notifications);
        return outcome;
    }
}

internal static class TransferOutcomes
{
    /// <summary>After commit: count the outcome and push each new notification to its user's sockets.</summary>
    public static async Task PublishAsync(Outcome<TransferResult> outcome, TallyMetrics metrics, INotificationPublisher notifications)
    {
        if (outcome.Error is { } error)
        {
            metrics.Transfer("REJECTED_" + error.Code);
            return;
        }
        var result = outcome.Value!;
        if (result.Replayed)
        {
            metrics.Transfer("REPLAYED");
            return;
        }
        metrics.Transfer(result.Transfer.Status);
        foreach (var push in result.Notifications)
        {
            await notifications.PublishAsync(push);
        }
    }
}

/// <summary>Releases holds that reached hold_until without being confirmed or cancelled.</summary>
public sealed class HoldExpiryService(ILedgerStore store, TallyMetrics metrics, TimeProvider time, IOptions<TransferOptions> options, ILogger<HoldExpiryService> logger) : BackgroundService
{
    private const int BatchLimit = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ExpirySweepInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                int expired;
                do
                {
                    expired = await store.ExpireHoldsAsync(time.GetUtcNow(), BatchLimit);
                    for (var i = 0; i < expired; i++)
                    {
                        metrics.Transfer(TransferStatus.Expired);
                    }
                }
                while (expired == BatchLimit && !stoppingToken.IsCancellationRequested);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Releasing expired holds failed; retrying at the next tick");
            }
        }
    }
}
