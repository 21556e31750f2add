using Tally.Domain;
using Tally.Server.Bus;
using Tally.Server.Features.Transfers;
using Tally.Server.Storage;

namespace Tally.Server.Tests.Infrastructure;

/// <summary>
/// Tally with the real transfer handler behind a gate that the test closes and opens: while it is closed, the
/// transfers a worker takes wait there, so queues fill deterministically, without racing a burst against a worker.
/// </summary>
public sealed class GatedTransferApp(params (string Key, string? Value)[] settings) : EmbeddedTallyApp(settings.ToDictionary(s => s.Key, s => s.Value))
{
    private volatile TaskCompletionSource _gate = Opened();

    /// <summary>Released once for each transfer that reaches the gate.</summary>
    public SemaphoreSlim Entered { get; } = new(0);

    public void Close() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Open() => _gate.TrySetResult();

    /// <summary>Closes the gate and sends a transfer that the worker then holds there; returns the pending send.</summary>
    public async Task<Task<HttpResponseMessage>> HoldATransferAsync(HttpClient client, string toAccountNumber)
    {
        ArgumentNullException.ThrowIfNull(client);
        Close();
        var running = client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = toAccountNumber, amount = 100 });
        Assert.True(await Entered.WaitAsync(TimeSpan.FromSeconds(10)), "The worker never took the first transfer");
        return running;
    }

    private static TaskCompletionSource Opened()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
            services.AddScoped<ICommandHandler<MakeTransfer, Outcome<TransferResult>>>(sp =>
                new GatedHandler(ActivatorUtilities.CreateInstance<MakeTransferHandler>(sp), this)));
    }

    protected override void Dispose(bool disposing)
    {
        Open();
        base.Dispose(disposing);
        if (disposing)
        {
            Entered.Dispose();
        }
    }

    private sealed class GatedHandler(MakeTransferHandler inner, GatedTransferApp app) : ICommandHandler<MakeTransfer, Outcome<TransferResult>>
    {
        public async Task<Outcome<TransferResult>> HandleAsync(MakeTransfer command, CommandContext context, CancellationToken cancellationToken)
        {
            app.Entered.Release();
            await app._gate.Task;
            return await inner.HandleAsync(command, context, cancellationToken);
        }
    }
}
