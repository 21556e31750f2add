using System.Diagnostics;
using System.Threading.Channels;

namespace Tally.Server.Bus;

/// <summary>
/// The embedded transport: a bounded channel drained by worker tasks. A full queue refuses at once
/// (503); a command still queued at its deadline is abandoned by its caller (504) and its worker
/// drops it unprocessed. Once a worker has started a command, the caller waits for its real result,
/// so a 504 always means "not applied".
/// </summary>
public sealed class InProcessCommandBus : ICommandBus, IHostedService, IAsyncDisposable
{
    private const int Queued = 0;
    private const int Running = 1;
    private const int Abandoned = 2;

    private readonly Channel<Envelope> _channel;
    private readonly CommandDispatcher _dispatcher;
    private readonly BusOptions _options;
    private readonly TallyMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<InProcessCommandBus> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task[] _workers = [];
    private int _disposed;

    public InProcessCommandBus(CommandDispatcher dispatcher, IOptions<BusOptions> options, TallyMetrics metrics, TimeProvider time, ILogger<InProcessCommandBus> logger)
    {
        _dispatcher = dispatcher;
        _options = options.Value;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _channel = Channel.CreateBounded<Envelope>(new BoundedChannelOptions(_options.Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
            SingleWriter = false,
        });
        metrics.ObserveQueueDepth("inprocess", () => _channel.Reader.Count);
    }

    public int QueueDepth => _channel.Reader.Count;

    public async Task<TResult> SendAsync<TResult>(ICommand<TResult> command, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var deadline = Admission.Deadline.Within(now, _options.Deadline);
        var envelope = new Envelope(command, new CommandContext(Guid.NewGuid(), deadline, Activity.Current?.Id), now);
        if (!_channel.Writer.TryWrite(envelope))
        {
            _metrics.CommandFinished(command, "rejected");
            throw new CommandQueueFullException(_options.RetryAfterSeconds);
        }

        try
        {
            var wait = deadline - now;
            var result = await envelope.Completion.Task.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, _time, cancellationToken);
            _metrics.CommandReplied(command, _time.GetUtcNow() - now);
            return (TResult)result!;
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            if (Interlocked.CompareExchange(ref envelope.State, Abandoned, Queued) == Queued)
            {
                _metrics.CommandFinished(command, "expired");
                if (ex is OperationCanceledException)
                {
                    throw;
                }
                throw new CommandDeadlineExceededException();
            }
            // A worker already started it: its outcome is real, so wait for it rather than report a false failure.
            return (TResult)(await envelope.Completion.Task)!;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _workers = Enumerable.Range(0, _options.Workers).Select(_ => Task.Run(WorkAsync, CancellationToken.None)).ToArray();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _channel.Writer.TryComplete();
        await Task.WhenAll(_workers).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task WorkAsync()
    {
        await foreach (var envelope in _channel.Reader.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
        {
            if (_time.GetUtcNow() >= envelope.Context.Deadline)
            {
                if (Interlocked.CompareExchange(ref envelope.State, Abandoned, Queued) == Queued)
                {
                    _metrics.CommandFinished(envelope.Command, "expired");
                    _metrics.DeadlineDropped("bus");
                    envelope.Completion.TrySetException(new CommandDeadlineExceededException());
                }
                continue;
            }
            if (Interlocked.CompareExchange(ref envelope.State, Running, Queued) != Queued)
            {
                continue;
            }
            _metrics.CommandWaited(_time.GetUtcNow() - envelope.EnqueuedAt);
            try
            {
                var result = await _dispatcher.DispatchAsync(envelope.Command, envelope.Context, CancellationToken.None).ConfigureAwait(false);
                _metrics.CommandFinished(envelope.Command, "handled");
                envelope.Completion.TrySetResult(result);
            }
            catch (CommandDeadlineExceededException ex)
            {
                // The database batch dropped its write unstarted: nothing was applied.
                _metrics.CommandFinished(envelope.Command, "expired");
                envelope.Completion.TrySetException(ex);
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Command {CommandType} {CommandId} failed", envelope.Command.GetType().Name, envelope.Context.CommandId);
                _metrics.CommandFinished(envelope.Command, "failed");
                envelope.Completion.TrySetException(ex);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The container disposes this instance once per registration that resolves it; only the first call acts.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _channel.Writer.TryComplete();
        await _stopping.CancelAsync();
        _stopping.Dispose();
    }

    private sealed class Envelope(object command, CommandContext context, DateTimeOffset enqueuedAt)
    {
        public int State = Queued;

        public object Command { get; } = command;

        public CommandContext Context { get; } = context;

        public DateTimeOffset EnqueuedAt { get; } = enqueuedAt;

        public TaskCompletionSource<object?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
