using StackExchange.Redis;

namespace Tally.Server.Cache;

/// <summary>
/// The one Redis connection of this instance. It connects in the background (so Tally starts while Redis
/// is down), with <c>AbortOnConnectFail=false</c>, and retries every second until the first connection;
/// from then on StackExchange.Redis reconnects by itself and, in Sentinel mode, follows <c>+switch-master</c>.
/// </summary>
public sealed class RedisConnection : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<ConnectionMultiplexer> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger<RedisConnection> _logger;
    private readonly CacheOptions _options;
    private int _started;
    private int _disposed;

    public RedisConnection(IOptions<CacheOptions> options, ILogger<RedisConnection> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>The key prefix from configuration.</summary>
    public string Prefix => _options.KeyPrefix;

    /// <summary>The connection, once it exists (it may be disconnected at the moment).</summary>
    public ConnectionMultiplexer? Multiplexer { get; private set; }

    /// <summary>True when Redis can be used right now; when false, callers fall back at once instead of waiting for a timeout.</summary>
    public bool IsConnected
    {
        get
        {
            EnsureStarted();
            return Multiplexer is { IsConnected: true };
        }
    }

    /// <summary>Raised when a connection to Redis fails (a node died, a failover began).</summary>
    public event Action? ConnectionFailed;

    /// <summary>Raised when a connection to Redis is restored.</summary>
    public event Action? ConnectionRestored;

    /// <summary>Completes when the first connection exists.</summary>
    public Task<ConnectionMultiplexer> WhenConnectedAsync()
    {
        EnsureStarted();
        return _connected.Task;
    }

    public IDatabase? Database => IsConnected ? Multiplexer!.GetDatabase() : null;

    public void EnsureStarted()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _ = Task.Run(ConnectLoopAsync);
        }
    }

    private async Task ConnectLoopAsync()
    {
        var stop = _stop.Token;
        var attempt = 0;
        while (!stop.IsCancellationRequested)
        {
            attempt++;
            try
            {
                var config = ConfigurationOptions.Parse(_options.Redis!);
                config.AbortOnConnectFail = false;
                config.ConnectTimeout = 2000;
                config.SyncTimeout = 1000;
                config.AsyncTimeout = 1000;
                config.ConnectRetry = 1;
                config.ReconnectRetryPolicy = new LinearRetry(500);
                config.ClientName ??= "tally";
                var multiplexer = await ConnectionMultiplexer.ConnectAsync(config);
                multiplexer.ConnectionFailed += (_, e) =>
                {
                    _logger.LogWarning("Redis connection to {EndPoint} failed: {Failure}", e.EndPoint, e.FailureType);
                    ConnectionFailed?.Invoke();
                };
                multiplexer.ConnectionRestored += (_, e) =>
                {
                    _logger.LogInformation("Redis connection to {EndPoint} restored", e.EndPoint);
                    ConnectionRestored?.Invoke();
                };
                Multiplexer = multiplexer;
                _connected.TrySetResult(multiplexer);
                _logger.LogInformation("Redis connected ({Connected})", multiplexer.IsConnected ? "up" : "connecting");
                return;
            }
            catch (Exception ex) when (ex is RedisException or InvalidOperationException or ArgumentException or TimeoutException or System.Net.Sockets.SocketException)
            {
                if (attempt == 1 || attempt % 30 == 0)
                {
                    _logger.LogWarning("Redis is not reachable yet (attempt {Attempt}): {Message}", attempt, ex.Message);
                }
            }
            await Task.Delay(TimeSpan.FromSeconds(1), stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stop.Cancel();
            Multiplexer?.Dispose();
            _stop.Dispose();
        }
    }
}
