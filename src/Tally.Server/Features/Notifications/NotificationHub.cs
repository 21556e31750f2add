using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Threading.Channels;

namespace Tally.Server.Features.Notifications;

/// <summary>Delivers a committed notification to its user, wherever their sockets are.</summary>
public interface INotificationPublisher
{
    Task PublishAsync(NotificationPush push);
}

/// <summary>The frame a client receives on /ws.</summary>
public sealed record NotificationFrame(string Type, long Id, string Message, long? TransferId, long? Amount, string CreatedAt)
{
    public static NotificationFrame From(NotificationView n) => new("notification", n.Id, n.Message, n.TransferId, n.Amount, n.CreatedAt);
}

/// <summary>
/// The open sockets of this instance, by user. Each socket has its own bounded outbox and send loop,
/// so one slow client can't hold up the others; a client that falls 256 frames behind is disconnected.
/// </summary>
public sealed class NotificationHub(ILogger<NotificationHub> logger) : INotificationPublisher
{
    private const int OutboxCapacity = 256;

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly ConcurrentDictionary<long, ConcurrentDictionary<Guid, Channel<byte[]>>> _sockets = new();

    public int ConnectionCount => _sockets.Values.Sum(s => s.Count);

    public Task PublishAsync(NotificationPush push)
    {
        ArgumentNullException.ThrowIfNull(push);
        if (!_sockets.TryGetValue(push.UserId, out var sockets))
        {
            return Task.CompletedTask;
        }
        var frame = JsonSerializer.SerializeToUtf8Bytes(NotificationFrame.From(push.Notification), s_json);
        foreach (var (id, outbox) in sockets)
        {
            if (!outbox.Writer.TryWrite(frame))
            {
                logger.LogWarning("Socket {SocketId} of user {UserId} fell behind; closing it", id, push.UserId);
                outbox.Writer.TryComplete();
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Registers the user's outbox, then accepts the socket and serves it until either side closes it.
    /// Registering first means that a notification committed after the client saw the upgrade is never missed.
    /// </summary>
    public async Task ServeAsync(long userId, Func<Task<WebSocket>> accept, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(accept);
        var id = Guid.NewGuid();
        var outbox = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(OutboxCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _sockets.GetOrAdd(userId, _ => new ConcurrentDictionary<Guid, Channel<byte[]>>())[id] = outbox;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            using var socket = await accept();
            var sending = SendLoopAsync(socket, outbox.Reader, done.Token);
            var receiving = ReceiveLoopAsync(socket, done.Token);
            await Task.WhenAny(sending, receiving);
            await done.CancelAsync();
            await CloseAsync(socket);
        }
        finally
        {
            // The user's (possibly empty) map stays: removing it could race a socket that is joining it.
            if (_sockets.TryGetValue(userId, out var sockets))
            {
                sockets.TryRemove(id, out _);
            }
        }
    }

    private static async Task SendLoopAsync(WebSocket socket, ChannelReader<byte[]> outbox, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var frame in outbox.ReadAllAsync(cancellationToken))
            {
                await socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // The socket closed or the client left; the hub forgets it.
        }
    }

    // Frames that clients send are read and ignored; reading is what notices a close.
    private static async Task ReceiveLoopAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[1024];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var result = await socket.ReceiveAsync(buffer, cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // The client went away.
        }
    }

    private static async Task CloseAsync(WebSocket socket)
    {
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
                // The peer is gone already.
            }
        }
    }
}
