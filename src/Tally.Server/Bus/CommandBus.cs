using System.Diagnostics;

namespace Tally.Server.Bus;

/// <summary>A write request: carried to a worker, handled once, answered with <typeparamref name="TResult"/>.</summary>
public interface ICommand<TResult>;

public interface ICommandHandler<in TCommand, TResult>
    where TCommand : ICommand<TResult>
{
    Task<TResult> HandleAsync(TCommand command, CommandContext context, CancellationToken cancellationToken);
}

/// <summary>What travels with every command: its inbox id, its deadline and the trace it belongs to.</summary>
public sealed record CommandContext(Guid CommandId, DateTimeOffset Deadline, string? TraceParent)
{
    /// <summary>
    /// True when the transport may deliver this command more than once (a broker redelivers what was not acked),
    /// so the store records <see cref="CommandId"/> in its inbox in the same transaction as the effect.
    /// </summary>
    public bool MayRedeliver { get; init; }

    /// <summary>The inbox key to hand to the store: the command id when the command may be redelivered, else null.</summary>
    public Guid? InboxId => MayRedeliver ? CommandId : null;
}

/// <summary>Sends a command to whichever transport is configured, and waits for its result until the deadline.</summary>
public interface ICommandBus
{
    /// <exception cref="CommandQueueFullException">The queue is full; the command was not accepted.</exception>
    /// <exception cref="CommandDeadlineExceededException">The deadline passed before a worker took the command; it will not run.</exception>
    Task<TResult> SendAsync<TResult>(ICommand<TResult> command, CancellationToken cancellationToken);
}

public sealed class CommandQueueFullException(int retryAfterSeconds) : Exception("The command queue is full.")
{
    public int RetryAfterSeconds { get; } = retryAfterSeconds;
}

public sealed class CommandDeadlineExceededException() : Exception("The command was not processed before its deadline.");

/// <summary>The transport cannot take commands now (the broker is unreachable); nothing was sent.</summary>
public sealed class CommandBusUnavailableException(int retryAfterSeconds, Exception? inner = null) : Exception("The command bus is unavailable.", inner)
{
    public int RetryAfterSeconds { get; } = retryAfterSeconds;
}

/// <summary>
/// A worker could not reach the database (down, failing over) or lost its commit's outcome: the command may or may
/// not have been applied, and a retry with the same idempotency key resolves it.
/// </summary>
public sealed class CommandStoreUnavailableException() : Exception("The database was unavailable to the worker.");

/// <summary>A worker ran the command and its handler failed for good; the command went to the dead-letter queue.</summary>
public sealed class CommandFailedException(string message) : Exception(message);

/// <summary>Finds the handler of a command by its type; shared by every transport, so handlers never know which one ran them.</summary>
public sealed class CommandDispatcher(IServiceScopeFactory scopes)
{
    internal static readonly ActivitySource ActivitySource = new("Tally.Bus");

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, IHandlerInvoker> s_invokers = new();

    public async Task<object?> DispatchAsync(object command, CommandContext context, CancellationToken cancellationToken)
    {
        var commandType = command.GetType();
        var invoker = s_invokers.GetOrAdd(commandType, static type =>
        {
            var resultType = type.GetInterfaces()
                .Single(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ICommand<>))
                .GetGenericArguments()[0];
            return (IHandlerInvoker)Activator.CreateInstance(typeof(HandlerInvoker<,>).MakeGenericType(type, resultType))!;
        });

        ActivityContext.TryParse(context.TraceParent, null, out var parent);
        using var activity = ActivitySource.StartActivity("handle " + commandType.Name, ActivityKind.Consumer, parent);
        activity?.SetTag("messaging.message.id", context.CommandId.ToString());

        // The handler's writes carry the command's deadline, so the database batch can drop them if it passes.
        Admission.Deadline.Current = context.Deadline;
        await using var scope = scopes.CreateAsyncScope();
        return await invoker.InvokeAsync(scope.ServiceProvider, command, context, cancellationToken);
    }

    private interface IHandlerInvoker
    {
        Task<object?> InvokeAsync(IServiceProvider services, object command, CommandContext context, CancellationToken cancellationToken);
    }

    private sealed class HandlerInvoker<TCommand, TResult> : IHandlerInvoker
        where TCommand : ICommand<TResult>
    {
        public async Task<object?> InvokeAsync(IServiceProvider services, object command, CommandContext context, CancellationToken cancellationToken)
        {
            var handler = services.GetRequiredService<ICommandHandler<TCommand, TResult>>();
            return await handler.HandleAsync((TCommand)command, context, cancellationToken);
        }
    }
}
