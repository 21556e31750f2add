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

    /// <summary>A started bus whose one handler waits at a <see cref="Gate"/>; disposing releases its services.</summary>
    private sealed class RunningBus(InProcessCommandBus bus, ServiceProvider services) : IAsyncDisposable
    {
        public Gate Gate { get; } = services.GetRequiredService<Gate>();

        public Task<string> SendAsync(string name, bool block = true) => bus.SendAsync(new Work(name, block), CancellationToken.None);

        /// <summary>Sends a command and waits until a worker holds it at the gate.</summary>
        public async Task<Task<string>> SendHeldAsync(string name)
        {
            var sent = SendAsync(name);
            Assert.True(await Gate.Started.WaitAsync(TimeSpan.FromSeconds(5)));
            return sent;
        }

        public Task StopAsync() => bus.StopAsync(CancellationToken.None);

        public ValueTask DisposeAsync() => services.DisposeAsync();
    }

    private static async Task<RunningBus> StartAsync(int capacity, int workers, TimeSpan deadline)
    {
        var services = new ServiceCollection()
            .AddMetrics()
            .AddSingleton(new Gate())
            .AddScoped<ICommandHandler<Work, string>, WorkHandler>()
            .BuildServiceProvider();
        var options = Microsoft.Extensions.Options.Options.Create(new BusOptions { Capacity = capacity, Workers = workers, Deadline = deadline });
        var bus = new InProcessCommandBus(
            new CommandDispatcher(services.GetRequiredService<IServiceScopeFactory>()),
            options,
            new TallyMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            TimeProvider.System,
            NullLogger<InProcessCommandBus>.Instance);
        await bus.StartAsync(CancellationToken.None);
        return new RunningBus(bus, services);
    }

    [Fact]
    public async Task FullQueue_RefusesAtOnce_AndLaterCommandsStillRun()
    {
        await using var bus = await StartAsync(capacity: 1, workers: 1, deadline: TimeSpan.FromSeconds(30));

        var first = await bus.SendHeldAsync("first");
        var queued = bus.SendAsync("queued");

        var refused = await Assert.ThrowsAsync<CommandQueueFullException>(() => bus.SendAsync("refused"));
        Assert.True(refused.RetryAfterSeconds >= 1);

        bus.Gate.Release.SetResult();
        Assert.Equal("first", await first);
        Assert.Equal("queued", await queued);
        Assert.DoesNotContain("refused", bus.Gate.Handled);
        await bus.StopAsync();
    }

    [Fact]
    public async Task QueuedPastDeadline_Gets504_AndIsNeverProcessed()
    {
        // The blocker must reach the worker before its own deadline: 2 s leaves room on a busy machine.
        await using var bus = await StartAsync(capacity: 10, workers: 1, deadline: TimeSpan.FromSeconds(2));

        var blocker = await bus.SendHeldAsync("blocker");
        await Assert.ThrowsAsync<CommandDeadlineExceededException>(() => bus.SendAsync("late", block: false));

        bus.Gate.Release.SetResult();
        Assert.Equal("blocker", await blocker);
        Assert.Equal("after", await bus.SendAsync("after", block: false));
        Assert.Equal(["blocker", "after"], bus.Gate.Handled.ToArray());
        await bus.StopAsync();
    }

    [Fact]
    public async Task StartedCommand_ReturnsItsRealResult_EvenPastTheDeadline()
    {
        await using var bus = await StartAsync(capacity: 10, workers: 1, deadline: TimeSpan.FromSeconds(1));

        var slow = await bus.SendHeldAsync("slow");
        await Task.Delay(1_500);
        Assert.False(slow.IsCompleted);
        bus.Gate.Release.SetResult();

        Assert.Equal("slow", await slow);
        Assert.Equal(["slow"], bus.Gate.Handled.ToArray());
        await bus.StopAsync();
    }
}
