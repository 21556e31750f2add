using Tally.Server.Bus.RabbitMq;

namespace Tally.Server.Bus;

/// <summary>
/// The command bus: the in-process queue and its workers (<c>InProcess</c>, which requires <c>Role=all</c>), or for
/// <c>RabbitMq</c> the connection, the publisher where the api runs and the consumers where the workers run.
/// </summary>
public static class BusModule
{
    public static IServiceCollection Add(IServiceCollection services, BusTransport transport, TallyRole role)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<BusOptions>().ValidateUnchanged(TallyComposition.BusKey, transport, options => options.Transport == transport);
        services.AddSingleton<CommandDispatcher>();
        switch (transport)
        {
            case BusTransport.InProcess:
                services.AddSingleton<InProcessCommandBus>();
                services.AddSingleton<ICommandBus>(sp => sp.GetRequiredService<InProcessCommandBus>());
                services.AddHostedService(sp => sp.GetRequiredService<InProcessCommandBus>());
                services.AddHealthChecks().AddCheck<InProcessBusHealthCheck>("bus", tags: [ServiceDefaultsExtensions.ReadyTag]);
                break;
            case BusTransport.RabbitMq:
                services.AddOptions<RabbitMqOptions>().BindConfiguration(RabbitMqOptions.Section).ValidateDataAnnotations().ValidateOnStart();
                services.AddSingleton<RabbitMqConnection>();
                if (role.ServesApi())
                {
                    services.AddSingleton<RabbitMqCommandBus>();
                    services.AddSingleton<ICommandBus>(sp => sp.GetRequiredService<RabbitMqCommandBus>());
                }
                if (role.RunsWorkers())
                {
                    services.AddSingleton<RabbitMqCommandConsumer>();
                }
                services.AddHostedService<RabbitMqBusHost>();
                services.AddHealthChecks().AddCheck<RabbitMqBusHealthCheck>("bus", tags: [ServiceDefaultsExtensions.ReadyTag]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(transport), transport, null);
        }
        return services;
    }
}

/// <summary>/ready's view of the in-process bus: the queue's fill.</summary>
internal sealed class InProcessBusHealthCheck(InProcessCommandBus bus, IOptions<BusOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var depth = bus.QueueDepth;
        var capacity = options.Value.Capacity;
        return Task.FromResult(depth >= capacity * 0.9
            ? HealthCheckResult.Degraded($"in-process queue {depth}/{capacity}")
            : HealthCheckResult.Healthy($"in-process queue {depth}/{capacity}"));
    }
}

/// <summary>/ready's view of the RabbitMQ bus: the connection, and where the api runs, the publisher.</summary>
internal sealed class RabbitMqBusHealthCheck(RabbitMqConnection connection, IOptions<RoleOptions> role, RabbitMqCommandBus? publisher = null) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!connection.IsOpen)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("rabbitmq: not connected"));
        }
        if (publisher is { IsReady: false })
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("rabbitmq: publisher not ready"));
        }
        return Task.FromResult(HealthCheckResult.Healthy($"rabbitmq: connected ({role.Value.Role.ToString().ToLowerInvariant()})"));
    }
}
