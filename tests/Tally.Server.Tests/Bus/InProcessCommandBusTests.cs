using Microsoft.Extensions.Logging.Abstractions;
using Tally.Server.Bus;
using Tally.Server.Observability;
using Tally.Server.Options;

namespace Tally.Server.Tests.Bus;

public sealed class InProcessCommandBusTests
{
    private sealed record Work(string Name, bool Block = true) : ICommand<string>;

    /// <summary>Lets a test hold a handler inside its work, and see what ran.</summary>
    private sealed class Gate
    {
        public SemaphoreSlim Started { get; } = new(0);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ConcurrentQueue<string> Handled { get; } = new();
    }

    private sealed class WorkHandler(Gate gate) : ICommandHandler<Work, string>
    {
        public async Task<string> HandleAsync(Work command, CommandContext context, CancellationToken cancellationToken)
        {
            gate.Started.Release();
            if (command.Block)
            {
                await gate.Release.Task;
            }
            gate.Handled.Enqueue(command.Name);
            return command.Name;
        }
    }

    private static (InProcessCommandBus Bus, Gate Gate, ServiceProvider Services) Create(int capacity, int workers, TimeSpan deadline)
    {
        var gate = new Gate();
        var services = new ServiceCollection()
            .AddMetrics()
            .AddSingleton(gate)
            .AddScoped<ICommandHandler<Work, string>, WorkHandler>()
            .BuildServiceProvider();
        var options = Microsoft.Extensions.Options.Options.Create(new BusOptions { Capacity = capacity, Workers = workers, Deadline = deadline });
        var bus = new InProcessCommandBus(
            new CommandDispatcher(services.GetRequiredService<IServiceScopeFactory>()),
            options,
            new TallyMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            TimeProvider.System,
            NullLogger<InProcessCommandBus>.Instance);
        return (bus, gate, services);
    }

    [Fact]
    public async Task FullQueue_RefusesAtOnce_AndLaterCommandsStillRun()
    {
        var (bus, gate, services) = Create(capacity: 1, workers: 1, deadline: TimeSpan.FromSeconds(30));
        await using var _ = services;
        await bus.StartAsync(CancellationToken.None);

        var first = bus.SendAsync(new Work("first"), CancellationToken.None);
        Assert.True(await gate.Started.WaitAsync(TimeSpan.FromSeconds(5)));
        var queued = bus.SendAsync(new Work("queued"), CancellationToken.None);

        var refused = await Assert.ThrowsAsync<CommandQueueFullException>(() => bus.SendAsync(new Work("refused"), CancellationToken.None));
        Assert.True(refused.RetryAfterSeconds >= 1);

        gate.Release.SetResult();
        Assert.Equal("first", await first);
        Assert.Equal("queued", await queued);
        Assert.DoesNotContain("refused", gate.Handled);
        await bus.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task QueuedPastDeadline_Gets504_AndIsNeverProcessed()
    {
        // The blocker must reach the worker before its own deadline: 2 s leaves room on a busy machine.
        var (bus, gate, services) = Create(capacity: 10, workers: 1, deadline: TimeSpan.FromSeconds(2));
        await using var _ = services;
        await bus.StartAsync(CancellationToken.None);

        var blocker = bus.SendAsync(new Work("blocker"), CancellationToken.None);
        Assert.True(await gate.Started.WaitAsync(TimeSpan.FromSeconds(5)));
        await Assert.ThrowsAsync<CommandDeadlineExceededException>(() => bus.SendAsync(new Work("late", Block: false), CancellationToken.None));

        gate.Release.SetResult();
        Assert.Equal("blocker", await blocker);
        Assert.Equal("after", await bus.SendAsync(new Work("after", Block: false), CancellationToken.None));
        Assert.Equal(["blocker", "after"], gate.Handled.ToArray());
        await bus.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task StartedCommand_ReturnsItsRealResult_EvenPastTheDeadline()
    {
        var (bus, gate, services) = Create(capacity: 10, workers: 1, deadline: TimeSpan.FromSeconds(1));
        await using var _ = services;
        await bus.StartAsync(CancellationToken.None);

        var slow = bus.SendAsync(new Work("slow"), CancellationToken.None);
        Assert.True(await gate.Started.WaitAsync(TimeSpan.FromSeconds(5)));
        await Task.Delay(1_500);
        Assert.False(slow.IsCompleted);
        gate.Release.SetResult();

        Assert.Equal("slow", await slow);
        Assert.Equal(["slow"], gate.Handled.ToArray());
        await bus.StopAsync(CancellationToken.None);
    }
}
