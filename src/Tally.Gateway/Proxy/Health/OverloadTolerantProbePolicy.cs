using System.Net;
using System.Runtime.CompilerServices;

namespace Tally.Gateway.Proxy.Health;

/// <summary>
/// Judges the active probes of <c>/ready</c> so that a busy instance is never ejected, where YARP's
/// ConsecutiveFailures counts any non-2xx answer and any timeout alike. A 2xx answer makes an instance healthy. An
/// answer that sheds load (429, or 503 with Retry-After) proves the process alive and changes nothing. A refused or
/// reset connection, or any other error answer (Tally's 503 while warming up or with a dependency down), is a failure:
/// <see cref="HealthCheckOptions.ActiveConsecutiveFailures"/> in a row eject. A probe without an answer in time counts
/// only towards <see cref="HealthCheckOptions.ActiveConsecutiveTimeouts"/> (timeouts and failures together): a starved
/// process answers late, a wedged one never does.
/// </summary>
public sealed class OverloadTolerantProbePolicy(
    IDestinationHealthUpdater updater,
    IClusterDestinationsUpdater destinations,
    UpstreamPool pool,
    IOptions<GatewayOptions> options) : IActiveHealthCheckPolicy
{
    public const string PolicyName = "TallyOverloadTolerant";

    private readonly int _failureThreshold = options.Value.HealthChecks.ActiveConsecutiveFailures;
    private readonly int _timeoutThreshold = options.Value.HealthChecks.ActiveConsecutiveTimeouts;
    private readonly ConditionalWeakTable<DestinationState, Streak> _streaks = new();

    public string Name => PolicyName;

    public void ProbingCompleted(ClusterState cluster, IReadOnlyList<DestinationProbingResult> probingResults)
    {
        ArgumentNullException.ThrowIfNull(probingResults);
        if (probingResults.Count == 0)
        {
            return;
        }
        var states = new NewActiveDestinationHealth[probingResults.Count];
        var reachabilityChanged = false;
        for (var i = 0; i < probingResults.Count; i++)
        {
            var result = probingResults[i];
            var verdict = Classify(result);
            reachabilityChanged |= pool.SetUnreachable(result.Destination, verdict == ProbeVerdict.Unreachable);
            states[i] = new NewActiveDestinationHealth(result.Destination, Judge(result.Destination, verdict));
        }
        updater.SetActive(cluster, states);
        // Panic routing skips unreachable instances: re-evaluate it when that changed without a health state changing.
        if (reachabilityChanged)
        {
            destinations.UpdateAvailableDestinations(cluster);
        }
    }

    private DestinationHealth Judge(DestinationState destination, ProbeVerdict verdict)
    {
        var previous = destination.Health.Active;
        var streak = _streaks.GetOrCreateValue(destination);
        lock (streak)
        {
            switch (verdict)
            {
                case ProbeVerdict.Ready:
                    streak.Failures = 0;
                    streak.Timeouts = 0;
                    return DestinationHealth.Healthy;
                case ProbeVerdict.Busy:
                    streak.Failures = 0;
                    streak.Timeouts = 0;
                    return previous;
                case ProbeVerdict.TimedOut:
                    streak.Timeouts++;
                    break;
                default:
                    streak.Failures++;
                    break;
            }
            var ejected = streak.Failures >= _failureThreshold || streak.Failures + streak.Timeouts >= _timeoutThreshold;
            return ejected ? DestinationHealth.Unhealthy : previous;
        }
    }

    /// <summary>What one probe says about an instance.</summary>
    public static ProbeVerdict Classify(DestinationProbingResult result)
    {
        if (result.Response is { } response)
        {
            if (response.IsSuccessStatusCode)
            {
                return ProbeVerdict.Ready;
            }
            var shedding = response.StatusCode == HttpStatusCode.TooManyRequests
                || (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null);
            return shedding ? ProbeVerdict.Busy : ProbeVerdict.NotReady;
        }
        for (var e = result.Exception; e is not null; e = e.InnerException)
        {
            if (e is OperationCanceledException or TimeoutException)
            {
                return ProbeVerdict.TimedOut;
            }
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError })
            {
                return ProbeVerdict.Unreachable;
            }
        }
        return ProbeVerdict.Broken;
    }

    private sealed class Streak
    {
        public int Failures;
        public int Timeouts;
    }
}

public enum ProbeVerdict
{
    /// <summary>2xx: ready.</summary>
    Ready,

    /// <summary>429, or 503 with Retry-After: alive and shedding load. Never a failure.</summary>
    Busy,

    /// <summary>No answer within the probe timeout: perhaps starved, perhaps wedged.</summary>
    TimedOut,

    /// <summary>Any other error answer, such as /ready's 503 while warming up.</summary>
    NotReady,

    /// <summary>The connection was refused (or the name did not resolve): nothing listens there.</summary>
    Unreachable,

    /// <summary>Another transport failure, such as a connection reset mid-answer.</summary>
    Broken,
}
