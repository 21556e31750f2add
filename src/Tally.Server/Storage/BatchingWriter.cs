using System.Threading.Channels;

namespace Tally.Server.Storage;

/// <summary>
/// Group commit, shared by the SQLite and the PostgreSQL writer: writes queue here, and one long-running task takes
/// every write waiting (up to the batch size), drops those whose caller's deadline has passed, and hands the rest to
/// the database's writer as one batch.
/// </summary>
public abstract class BatchingWriter : IAsyncDisposable
{
    private readonly Channel<Write> _channel = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = true });
    private readonly int _maxBatch;
    private readonly TallyMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Task _writer;

    private protected BatchingWriter(int maxBatch, TallyMetrics metrics, TimeProvider time)
    {
        _maxBatch = maxBatch;
        _metrics = metrics;
        _time = time;
        _writer = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>One queued write; its caller awaits the completion it sets.</summary>
    private protected abstract class Write
    {
        /// <summary>When the write stops being useful; null for background work (the hold-expiry sweep).</summary>
        public DateTimeOffset? Deadline { get; } = Admission.Deadline.Current;

        public abstract void Fail(Exception exception);
    }

    private protected void Enqueue(Write write)
    {
        if (!_channel.Writer.TryWrite(write))
        {
            throw new ObjectDisposedException(GetType().Name);
        }
    }

    /// <summary>Runs one batch; each of its writes is completed or failed by the time it returns.</summary>
    private protected abstract Task RunBatchAsync(List<Write> batch);

    /// <summary>Releases the writer's connection once the queue has closed and drained.</summary>
    private protected abstract ValueTask StopAsync();

    private async Task RunAsync()
    {
        var batch = new List<Write>(_maxBatch);
        while (await _channel.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var now = _time.GetUtcNow();
            while (batch.Count < _maxBatch && _channel.Reader.TryRead(out var write))
            {
                // Its caller's deadline passed while it waited for the writer: drop it unstarted (the caller answers 504).
                if (write.Deadline <= now)
                {
                    _metrics.DeadlineDropped("batch");
                    write.Fail(new CommandDeadlineExceededException());
                    continue;
                }
                batch.Add(write);
            }
            if (batch.Count > 0)
            {
                await RunBatchAsync(batch).ConfigureAwait(false);
                batch.Clear();
            }
        }
        await StopAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}
