using System.Collections.Frozen;

namespace Tally.Server.Bus.RabbitMq;

/// <summary>
/// The commands a message may carry, found once in this assembly: a message names its type in the AMQP <c>type</c>
/// property, and only these names are ever deserialized. Each command's area (its feature folder) names its queue.
/// </summary>
public static class CommandTypes
{
    private static readonly FrozenDictionary<string, Type> s_byName = typeof(CommandTypes).Assembly.GetTypes()
        .Where(t => t is { IsAbstract: false, IsInterface: false } && ResultTypeOrNull(t) is not null)
        .ToFrozenDictionary(t => t.FullName!, StringComparer.Ordinal);

    public static IEnumerable<Type> All => s_byName.Values;

    /// <summary>The areas that have commands, e.g. <c>auth</c> and <c>transfer</c>.</summary>
    public static IReadOnlyList<string> Areas { get; } = s_byName.Values.Select(AreaOf).Distinct().Order(StringComparer.Ordinal).ToArray();

    public static string NameOf(Type commandType) => commandType.FullName!;

    public static Type? Find(string? name) => name is not null && s_byName.TryGetValue(name, out var type) ? type : null;

    /// <summary>The last namespace segment, lower case and singular: Tally.Server.Features.Transfers → transfer.</summary>
    public static string AreaOf(Type commandType)
    {
        var ns = commandType.Namespace ?? "commands";
        var area = ns[(ns.LastIndexOf('.') + 1)..].ToLowerInvariant();
        return area.Length > 1 && area.EndsWith('s') ? area[..^1] : area;
    }

    public static Type ResultTypeOf(Type commandType) =>
        ResultTypeOrNull(commandType) ?? throw new ArgumentException($"{commandType} is not a command.", nameof(commandType));

    private static Type? ResultTypeOrNull(Type type) => type.GetInterfaces()
        .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ICommand<>))?.GetGenericArguments()[0];
}

/// <summary>The names of the exchanges and queues of one <see cref="Options.RabbitMqOptions.QueuePrefix"/>.</summary>
public sealed class RabbitMqNames(string prefix)
{
    public string DeadLetterExchange { get; } = prefix + ".commands.dlx";

    public string DeadLetterQueue { get; } = prefix + ".commands.dead";

    public string QueueOf(string area) => $"{prefix}.commands.{area}";

    public string QueueOf(Type commandType) => QueueOf(CommandTypes.AreaOf(commandType));

    public IEnumerable<string> CommandQueues => CommandTypes.Areas.Select(QueueOf);
}

/// <summary>The header names a command message carries besides the AMQP properties.</summary>
internal static class Headers
{
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";

    /// <summary>The deadline, in Unix milliseconds: a worker drops the message from then on.</summary>
    public const string Deadline = "tally-deadline";

    /// <summary>When the api published, in Unix milliseconds: the worker's queue wait (consumer lag) starts here.</summary>
    public const string SentAt = "tally-sent-at";

    /// <summary>On a reply: the handler failed for good; the body is a message, not a result.</summary>
    public const string Error = "tally-error";

    /// <summary>The <see cref="Error"/> of a reply whose command was dropped unstarted at its deadline: the caller answers 504.</summary>
    public const string ExpiredError = "expired";

    /// <summary>The <see cref="Error"/> of a reply whose handler found the database unavailable: the caller answers 503.</summary>
    public const string UnavailableError = "unavailable";

    public const string DirectReplyTo = "amq.rabbitmq.reply-to";

    public static string? GetString(IDictionary<string, object?>? headers, string key) => headers is not null && headers.TryGetValue(key, out var value)
        ? value switch
        {
            byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes),
            string s => s,
            _ => value?.ToString(),
        }
        : null;

    public static long? GetLong(IDictionary<string, object?>? headers, string key) => headers is not null && headers.TryGetValue(key, out var value)
        ? value switch
        {
            long l => l,
            int i => i,
            byte[] bytes when long.TryParse(System.Text.Encoding.UTF8.GetString(bytes), System.Globalization.CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => null,
        }
        : null;
}
