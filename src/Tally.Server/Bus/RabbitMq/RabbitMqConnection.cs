using RabbitMQ.Client;

namespace Tally.Server.Bus.RabbitMq;

/// <summary>
/// The one connection to the broker (<c>ConnectionStrings:RabbitMq</c>, or each node of <c>Bus:RabbitMq:Endpoints</c>
/// in turn). The client recovers it on its own after a broker restart or the loss of its node (automatic recovery
/// with topology recovery: channels, queues and consumers come back, on another node of a cluster); until the
/// first connection succeeds, <see cref="ConnectAsync"/> keeps trying.
/// </summary>
public sealed class RabbitMqConnection : IAsyncDisposable
{
    private readonly ConnectionFactory _factory;
    private readonly ILogger<RabbitMqConnection> _logger;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private readonly List<AmqpTcpEndpoint> _endpoints;
    private readonly string _queueType;
    private IConnection? _connection;

    public RabbitMqConnection(IConfiguration configuration, IOptions<BusOptions> bus, IOptions<RabbitMqOptions> options, IOptions<RoleOptions> role, ILogger<RabbitMqConnection> logger)
    {
        _logger = logger;
        var connectionString = configuration.GetConnectionString("RabbitMq");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException("Bus:Transport is RabbitMq, but ConnectionStrings:RabbitMq is not set.");
        }
        Names = new RabbitMqNames(options.Value.QueuePrefix);
        Capacity = bus.Value.Capacity;
        DeadLetterMaxLength = options.Value.DeadLetterMaxLength;
        _factory = new ConnectionFactory
        {
            Uri = new Uri(connectionString),
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
            ClientProvidedName = $"tally-{role.Value.Role.ToString().ToLowerInvariant()}-{Environment.ProcessId}",
        };
        _endpoints = ParseEndpoints(options.Value.Endpoints, _factory.Endpoint);
        _queueType = options.Value.QueueType;
    }

    /// <summary>The nodes to connect to: each <c>host:port</c> of <paramref name="endpoints"/>, or the connection string's alone.</summary>
    public static List<AmqpTcpEndpoint> ParseEndpoints(string endpoints, AmqpTcpEndpoint fallback)
    {
        ArgumentNullException.ThrowIfNull(fallback);
        var list = new List<AmqpTcpEndpoint>();
        foreach (var entry in (endpoints ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = entry.LastIndexOf(':');
            list.Add(new AmqpTcpEndpoint(entry[..colon], int.Parse(entry[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture), fallback.Ssl));
        }
        if (list.Count == 0)
        {
            list.Add(fallback);
        }
        return list;
    }

    public RabbitMqNames Names { get; }

    /// <summary>The bound of each command queue (<c>x-max-length</c>, <c>Bus:Capacity</c>).</summary>
    public int Capacity { get; }

    public int DeadLetterMaxLength { get; }

    public IConnection? Connection => _connection;

    public bool IsOpen => _connection is { IsOpen: true };

    /// <summary>Connects (once; later calls return the same connection), retrying every second until <paramref name="cancellationToken"/>.</summary>
    public async Task<IConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        if (_connection is { } existing)
        {
            return existing;
        }
        await _connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (_connection is null)
            {
                try
                {
                    var connection = await _factory.CreateConnectionAsync(_endpoints, cancellationToken).ConfigureAwait(false);
                    connection.ConnectionShutdownAsync += (_, args) =>
                    {
                        _logger.LogWarning("RabbitMQ connection lost: {Reason}", args.ReplyText);
                        return Task.CompletedTask;
                    };
                    connection.RecoverySucceededAsync += (_, _) =>
                    {
                        _logger.LogInformation("RabbitMQ connection recovered");
                        return Task.CompletedTask;
                    };
                    await DeclareTopologyAsync(connection, cancellationToken).ConfigureAwait(false);
                    _connection = connection;
                    _logger.LogInformation("Connected to RabbitMQ at {Endpoint}", connection.Endpoint);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogWarning(ex, "RabbitMQ is not reachable; retrying in 1 s");
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                }
            }
            return _connection;
        }
        finally
        {
            _connecting.Release();
        }
    }

    /// <summary>
    /// Durable, bounded queues per area that refuse a publish when full (the publisher gets a nack), and dead-letter
    /// what a worker rejects (and what expires) to a bounded dead-letter queue. With <c>Bus:RabbitMq:QueueType=quorum</c>
    /// (a cluster) a publish is confirmed once a majority of the nodes has it, so the loss of one node loses no
    /// command. Every role declares the same topology, so whichever starts first creates it.
    /// </summary>
    private async Task DeclareTopologyAsync(IConnection connection, CancellationToken cancellationToken)
    {
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(Names.DeadLetterExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        var deadLetter = new Dictionary<string, object?> { ["x-max-length"] = DeadLetterMaxLength };
        AddQueueType(deadLetter);
        await DeclareQueueAsync(channel, Names.DeadLetterQueue, deadLetter, cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(Names.DeadLetterQueue, Names.DeadLetterExchange, routingKey: "", cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var queue in Names.CommandQueues)
        {
            await DeclareQueueAsync(channel, queue, CommandQueueArguments(), cancellationToken).ConfigureAwait(false);
        }
        await channel.CloseAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task DeclareQueueAsync(IChannel channel, string queue, Dictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        try
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                arguments: arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 406)
        {
            // The queue exists with other arguments (say a classic queue, and now Bus:RabbitMq:QueueType=quorum): a
            // queue's type can't change in place, and deleting it would drop the commands it holds.
            throw new InvalidOperationException(
                $"The RabbitMQ queue {queue} exists with other arguments than Tally declares ({ex.ShutdownReason.ReplyText}). " +
                "Drain and delete it, or set Bus:RabbitMq:QueueType to the type it has.", ex);
        }
    }

    public Dictionary<string, object?> CommandQueueArguments()
    {
        var arguments = new Dictionary<string, object?>
        {
            ["x-max-length"] = Capacity,
            ["x-overflow"] = "reject-publish",
            ["x-dead-letter-exchange"] = Names.DeadLetterExchange,
        };
        AddQueueType(arguments);
        return arguments;
    }

    private void AddQueueType(Dictionary<string, object?> arguments)
    {
        if (_queueType.Length > 0)
        {
            arguments["x-queue-type"] = _queueType;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is { } connection)
        {
            try
            {
                await connection.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _logger.LogDebug(ex, "Closing the RabbitMQ connection failed");
            }
            connection.Dispose();
        }
        _connecting.Dispose();
    }
}
