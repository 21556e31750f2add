using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Tally.Gateway.Http;
using Tally.Gateway.Observability;
using Tally.Gateway.Options;
using Tally.Gateway.Proxy;
using Tally.Gateway.Proxy.Health;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Tally.Gateway.Tests.Proxy;

/// <summary>The overload policies' decisions, one probe or one request at a time, on a clock the test moves.</summary>
public sealed class OverloadPolicyTests
{
    private static IOptions<GatewayOptions> Options(Action<GatewayOptions>? change = null)
    {
        var options = new GatewayOptions { Backends = ["http://127.0.0.1:1"] };
        change?.Invoke(options);
        return Microsoft.Extensions.Options.Options.Create(options);
    }

    private static DestinationProbingResult Answer(DestinationState destination, HttpStatusCode status, bool retryAfter = false)
    {
        var response = new HttpResponseMessage(status);
        if (retryAfter)
        {
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(1));
        }
        return new DestinationProbingResult(destination, response, null);
    }

    private static DestinationProbingResult TimedOut(DestinationState destination) =>
        new(destination, null, new TaskCanceledException("probe timed out", new TimeoutException()));

    private static DestinationProbingResult Refused(DestinationState destination) =>
        new(destination, null, new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused"));

    /// <summary>A probe policy and one destination whose first probe was answered 200.</summary>
    private static (OverloadTolerantProbePolicy Policy, UpstreamPool Pool, ClusterState Cluster, DestinationState Destination) HealthyProbeSetup()
    {
        var options = Options();
        var pool = new UpstreamPool(new ManualClock(), options);
        var updater = new HealthWriter();
        var policy = new OverloadTolerantProbePolicy(updater, updater, pool, options);
        var destination = new DestinationState("api-0");
        var cluster = new ClusterState("api");
        policy.ProbingCompleted(cluster, [Answer(destination, HttpStatusCode.OK)]);
        return (policy, pool, cluster, destination);
    }

    [Fact]
    public void Probes_TimingOutAFewTimes_DoNotEject_ButAsManyAsTheTimeoutThresholdDo()
    {
        var (policy, _, cluster, destination) = HealthyProbeSetup();
        for (var i = 0; i < 4; i++)
        {
            policy.ProbingCompleted(cluster, [TimedOut(destination)]);
            Assert.Equal(DestinationHealth.Healthy, destination.Health.Active);
        }
        policy.ProbingCompleted(cluster, [TimedOut(destination)]);
        Assert.Equal(DestinationHealth.Unhealthy, destination.Health.Active);
    }

    [Fact]
    public void Probes_AnsweredWithRetryAfter_AreNeverFailures_AndResetTheStreak()
    {
        var (policy, _, cluster, destination) = HealthyProbeSetup();
        for (var i = 0; i < 20; i++)
        {
            policy.ProbingCompleted(cluster, [TimedOut(destination)]);
            policy.ProbingCompleted(cluster, [i % 2 == 0
                ? Answer(destination, HttpStatusCode.ServiceUnavailable, retryAfter: true)
                : Answer(destination, HttpStatusCode.TooManyRequests)]);
            Assert.Equal(DestinationHealth.Healthy, destination.Health.Active);
        }
    }

    [Fact]
    public void Probes_RefusedOrNotReadyTwice_Eject_AndARefusalMarksTheInstanceUnreachable()
    {
        var (policy, pool, cluster, destination) = HealthyProbeSetup();
        policy.ProbingCompleted(cluster, [Answer(destination, HttpStatusCode.ServiceUnavailable)]);
        Assert.Equal(DestinationHealth.Healthy, destination.Health.Active);
        Assert.False(pool.IsUnreachable(destination));
        policy.ProbingCompleted(cluster, [Refused(destination)]);
        Assert.Equal(DestinationHealth.Unhealthy, destination.Health.Active);
        Assert.True(pool.IsUnreachable(destination));

        policy.ProbingCompleted(cluster, [Answer(destination, HttpStatusCode.OK)]);
        Assert.Equal(DestinationHealth.Healthy, destination.Health.Active);
        Assert.False(pool.IsUnreachable(destination));
    }

    private static HttpContext Proxied(ForwarderError? error)
    {
        var context = new DefaultHttpContext();
        if (error is { } e)
        {
            context.Features.Set<IForwarderErrorFeature>(new ErrorFeature(e));
        }
        return context;
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData(ForwarderError.Request, true)]
    [InlineData(ForwarderError.ResponseBodyDestination, true)]
    [InlineData(ForwarderError.RequestTimedOut, null)]
    [InlineData(ForwarderError.RequestBodyClient, null)]
    public void PassiveCheck_CountsTransportFailuresOnly_NotTimeouts(ForwarderError? error, bool? failure) =>
        Assert.Equal(failure, TransportFailurePassivePolicy.IsTransportFailure(Proxied(error)));

    [Fact]
    public void PassiveCheck_ManyTimedOutRequests_LeaveTheInstanceHealthy_ManyRefusalsDoNot()
    {
        var options = Options(o => o.HealthChecks.PassiveMinimalRequests = 2);
        var updater = new HealthWriter();
        var policy = new TransportFailurePassivePolicy(updater, new ManualClock(), options);
        using var client = new HttpMessageInvoker(new SocketsHttpHandler());
        var cluster = new ClusterState("api", new ClusterModel(new Yarp.ReverseProxy.Configuration.ClusterConfig { ClusterId = "api" }, client));
        var slow = new DestinationState("slow");
        var dead = new DestinationState("dead");
        for (var i = 0; i < 20; i++)
        {
            policy.RequestProxied(Proxied(ForwarderError.RequestTimedOut), cluster, slow);
            policy.RequestProxied(Proxied(ForwarderError.Request), cluster, dead);
        }
        Assert.NotEqual(DestinationHealth.Unhealthy, slow.Health.Passive);
        Assert.Equal(DestinationHealth.Unhealthy, dead.Health.Passive);
    }

    [Fact]
    public void PanicThreshold_FewerThanHalfHealthy_RoutesToAllButTheUnreachable()
    {
        var options = Options();
        var pool = new UpstreamPool(new ManualClock(), options);
        var policy = new PanicThresholdDestinationsPolicy(pool, options);
        var config = new Yarp.ReverseProxy.Configuration.ClusterConfig
        {
            ClusterId = "api",
            HealthCheck = new() { Active = new() { Enabled = true } },
        };
        var destinations = Enumerable.Range(0, 4).Select(i => new DestinationState($"api-{i}")).ToArray();

        destinations[0].Health.Active = DestinationHealth.Unhealthy;
        destinations[1].Health.Active = DestinationHealth.Unhealthy;
        Assert.Equal(new[] { "api-2", "api-3" }, policy.GetAvailalableDestinations(config, destinations).Select(d => d.DestinationId));
        Assert.False(pool.InPanic("api"));

        destinations[2].Health.Active = DestinationHealth.Unhealthy;
        pool.SetUnreachable(destinations[0], true);
        Assert.Equal(new[] { "api-1", "api-2", "api-3" }, policy.GetAvailalableDestinations(config, destinations).Select(d => d.DestinationId));
        Assert.True(pool.InPanic("api"));
    }

    [Fact]
    public void SlowStart_AJoiningInstance_RampsFromATenthToFullOverTheWindow()
    {
        var clock = new ManualClock();
        var options = Options(o => o.HealthChecks.SlowStartWindow = TimeSpan.FromSeconds(10));
        var pool = new UpstreamPool(clock, options);
        var destination = new DestinationState("api-0");
        pool.Observe(destination, inPool: false, clock.GetTimestamp());
        Assert.Equal(1.0, pool.Weight(destination));

        pool.Observe(destination, inPool: true, clock.GetTimestamp());
        Assert.Equal(UpstreamPool.MinimumWeight, pool.Weight(destination));
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0.5, pool.Weight(destination), 3);
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1.0, pool.Weight(destination));

        pool.Observe(destination, inPool: false, clock.GetTimestamp());
        pool.Observe(destination, inPool: true, clock.GetTimestamp());
        Assert.Equal(UpstreamPool.MinimumWeight, pool.Weight(destination));
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("2s", 2000)]
    [InlineData(" 700 ", 700)]
    [InlineData("0", null)]
    [InlineData("-5", null)]
    [InlineData("1.5s", null)]
    [InlineData("ms", null)]
    [InlineData("", null)]
    public void RequestTimeout_ParsesTallysFormats(string value, int? milliseconds)
    {
        var parsed = RequestDeadline.TryParse(value, out var timeout);
        Assert.Equal(milliseconds is not null, parsed);
        if (milliseconds is { } ms)
        {
            Assert.Equal(TimeSpan.FromMilliseconds(ms), timeout);
        }
    }

    [Fact]
    public async Task Deadline_SpentBeforeForwarding_IsAnswered504_AndNotSent()
    {
        var clock = new ManualClock();
        var services = new ServiceCollection().AddLogging().AddMetrics().AddProblemDetails().AddSingleton<GatewayMetrics>().BuildServiceProvider();
        var forwarded = false;
        var middleware = new UpstreamDeadlineMiddleware(_ => { forwarded = true; return Task.CompletedTask; }, Options(), services.GetRequiredService<GatewayMetrics>());
        var context = new DefaultHttpContext { RequestServices = services };
        context.Response.Body = new MemoryStream();
        context.Features.Set(new RequestDeadline(clock.GetTimestamp(), TimeSpan.FromMilliseconds(100), clock));

        clock.Advance(TimeSpan.FromMilliseconds(40));
        await middleware.InvokeAsync(context);
        Assert.True(forwarded);
        Assert.Equal("60ms", context.Request.Headers[RequestDeadline.Header].ToString());

        forwarded = false;
        clock.Advance(TimeSpan.FromMilliseconds(60));
        await middleware.InvokeAsync(context);
        Assert.False(forwarded);
        Assert.Equal(StatusCodes.Status504GatewayTimeout, context.Response.StatusCode);
        context.Response.Body.Position = 0;
        var problem = await JsonSerializer.DeserializeAsync<JsonElement>(context.Response.Body);
        Assert.Equal("DEADLINE_EXCEEDED", problem.GetProperty("error_code").GetString());
    }

    /// <summary>A clock that moves only when the test says so.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks = TimeSpan.FromHours(1).Ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    /// <summary>Stands in for YARP's updaters: writes the new states at once, as YARP does, without the cluster rebuild.</summary>
    private sealed class HealthWriter : IDestinationHealthUpdater, IClusterDestinationsUpdater
    {
        public void SetActive(ClusterState cluster, IEnumerable<NewActiveDestinationHealth> newHealthStates)
        {
            foreach (var state in newHealthStates)
            {
                state.Destination.Health.Active = state.NewActiveHealth;
            }
        }

        public void SetPassive(ClusterState cluster, DestinationState destination, DestinationHealth newHealth, TimeSpan reactivationPeriod) =>
            destination.Health.Passive = newHealth;

        public void UpdateAllDestinations(ClusterState cluster)
        {
        }

        public void UpdateAvailableDestinations(ClusterState cluster)
        {
        }
    }

    private sealed class ErrorFeature(ForwarderError error) : IForwarderErrorFeature
    {
        public ForwarderError Error { get; } = error;

        public Exception? Exception => null;
    }
}
