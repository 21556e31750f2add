using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

// One request at a time over RabbitMQ, as Tally's bus sends a command: a persistent message to a durable, bounded
// queue, published with confirms on a pool of two channels, answered over direct reply-to by a consumer that
// replies, then acks. The caller waits for the reply or the confirm, whichever comes first. No Tally code runs, so
// the p50 is the floor that the broker and the client library set for Tally's hop on this machine.
// Usage: BrokerRpcFloor AMQP_URI [ROUND_TRIPS]
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: BrokerRpcFloor AMQP_URI [ROUND_TRIPS]");
    return 2;
}
var uri = new Uri(args[0]);
if (!uri.IsLoopback)
{
    Console.Error.WriteLine($"{uri.Host} is not a loopback address");
    return 2;
}
var roundTrips = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3000;
var warmUp = Math.Min(500, roundTrips / 5);

var factory = new ConnectionFactory { Uri = uri };
await using var workerConnection = await factory.CreateConnectionAsync();
await using var callerConnection = await factory.CreateConnectionAsync();

var queue = "rpc-floor-" + Guid.NewGuid().ToString("N")[..8];
await using var worker = await workerConnection.CreateChannelAsync();
await worker.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: true,
    arguments: new Dictionary<string, object?> { ["x-max-length"] = 4096, ["x-overflow"] = "reject-publish" });
await worker.BasicQosAsync(0, 64, false);
var replier = new AsyncEventingBasicConsumer(worker);
replier.ReceivedAsync += async (_, delivery) =>
{
    var reply = new BasicProperties { CorrelationId = delivery.BasicProperties.CorrelationId, ContentType = "application/json" };
    await worker.BasicPublishAsync("", delivery.BasicProperties.ReplyTo!, false, reply, delivery.Body);
    await worker.BasicAckAsync(delivery.DeliveryTag, false);
};
await worker.BasicConsumeAsync(queue, autoAck: false, replier);

var pending = new ConcurrentDictionary<string, TaskCompletionSource>();
var pool = new ConcurrentQueue<IChannel>();
for (var i = 0; i < 2; i++)
{
    var channel = await callerConnection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
    var replies = new AsyncEventingBasicConsumer(channel);
    replies.ReceivedAsync += (_, delivery) =>
    {
        if (pending.TryRemove(delivery.BasicProperties.CorrelationId!, out var waiter))
        {
            waiter.TrySetResult();
        }
        return Task.CompletedTask;
    };
    await channel.BasicConsumeAsync("amq.rabbitmq.reply-to", autoAck: true, replies);
    pool.Enqueue(channel);
}

var body = new byte[256];
var samples = new List<double>(roundTrips);
var confirms = new List<Task>();
for (var i = 0; i < warmUp + roundTrips; i++)
{
    var id = Guid.NewGuid().ToString("D");
    var reply = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    pending[id] = reply;
    var properties = new BasicProperties
    {
        MessageId = id,
        CorrelationId = id,
        ReplyTo = "amq.rabbitmq.reply-to",
        Persistent = true,
        ContentType = "application/json",
        Expiration = "10000",
    };
    var started = Stopwatch.GetTimestamp();
    if (!pool.TryDequeue(out var publisher))
    {
        await Task.WhenAll(confirms);
        confirms.Clear();
        pool.TryDequeue(out publisher);
    }
    var publish = PublishAsync(publisher!, properties);
    confirms.Add(publish);
    await Task.WhenAny(publish, reply.Task);
    await reply.Task;
    if (i >= warmUp)
    {
        samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }
    confirms.RemoveAll(t => t.IsCompleted);
}
await Task.WhenAll(confirms);
await worker.QueueDeleteAsync(queue);

samples.Sort();
double At(double q) => samples[Math.Min(samples.Count - 1, (int)(q * samples.Count))];
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"broker round trip, {samples.Count} requests one at a time: p50 {At(0.50):0.000} ms, p90 {At(0.90):0.000} ms, p99 {At(0.99):0.000} ms"));
return 0;

async Task PublishAsync(IChannel channel, BasicProperties properties)
{
    try
    {
        await channel.BasicPublishAsync("", queue, mandatory: true, properties, body);
    }
    finally
    {
        pool.Enqueue(channel);
    }
}
