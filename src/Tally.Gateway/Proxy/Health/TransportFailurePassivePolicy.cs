using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Forwarder;

namespace Tally.Gateway.Proxy.Health;

/// <summary>
/// Passive health from live requests: an instance whose share of transport failures in a sliding window reaches
/// <see cref="HealthCheckOptions.PassiveFailureRate"/> leaves the pool until its reactivation. YARP's own
/// TransportFailureRate counts a timed-out request (<see cref="ForwarderError.RequestTimedOut"/>) as a failure, which
/// ejects an instance for being slow under load; here a timeout, like a request the client abandoned, is not counted
/// at all, and only a refused or reset connection or a broken request or response body is. Any HTTP answer (503
/// <c>OVERLOADED</c> included) is a success: the instance answered.
/// </summary>
public sealed class TransportFailurePassivePolicy(IDestinationHealthUpdater updater, TimeProvider time, IOptions<GatewayOptions> options) : IPassiveHealthCheckPolicy
{
    public const string PolicyName = "TallyTransportFailures";

    private const int Buckets = 10;

    private readonly HealthCheckOptions _options = options.Value.HealthChecks;
    private readonly ConditionalWeakTable<DestinationState, FailureWindow> _windows = new();

    public string Name => PolicyName;

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(cluster);
        var failed = IsTransportFailure(context);
        if (failed is null)
        {
            return;
        }
        var bucketTicks = Math.Max(1L, (long)(_options.PassiveWindow.TotalSeconds * time.TimestampFrequency / Buckets));
        var window = _windows.GetOrCreateValue(destination);
        int total, failures;
        lock (window)
        {
            (total, failures) = window.Add(time.GetTimestamp() / bucketTicks, failed.Value);
        }
        var unhealthy = total >= _options.PassiveMinimalRequests && (double)failures / total >= _options.PassiveFailureRate;
        var configured = cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? _options.PassiveReactivationPeriod;
        // An instance let back in before its failures leave the window would be judged on them again.
        var reactivation = configured >= _options.PassiveWindow ? configured : _options.PassiveWindow;
        updater.SetPassive(cluster, destination, unhealthy ? DestinationHealth.Unhealthy : DestinationHealth.Healthy, reactivation);
    }

    /// <summary>True for a transport failure, false for an answer, null for what says nothing about the instance's health.</summary>
    public static bool? IsTransportFailure(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var error = context.Features.Get<IForwarderErrorFeature>();
        if (error is null)
        {
            return false;
        }
        if (context.RequestAborted.IsCancellationRequested)
        {
            return null;
        }
        return error.Error switch
        {
            ForwarderError.Request
                or ForwarderError.RequestBodyDestination
                or ForwarderError.ResponseBodyDestination
                or ForwarderError.UpgradeRequestDestination
                or ForwarderError.UpgradeResponseDestination => true,
            _ => null,
        };
    }

    /// <summary>Counts per time bucket, <see cref="Buckets"/> buckets to the window; a bucket is reused once it is a window old.</summary>
    private sealed class FailureWindow
    {
        private readonly long[] _epochs = new long[Buckets];
        private readonly int[] _totals = new int[Buckets];
        private readonly int[] _failures = new int[Buckets];

        public (int Total, int Failures) Add(long epoch, bool failed)
        {
            var slot = (int)(epoch % Buckets);
            if (_epochs[slot] != epoch)
            {
                _epochs[slot] = epoch;
                _totals[slot] = 0;
                _failures[slot] = 0;
            }
            _totals[slot]++;
            if (failed)
            {
                _failures[slot]++;
            }
            int total = 0, failures = 0;
            for (var i = 0; i < Buckets; i++)
            {
                if (epoch - _epochs[i] < Buckets)
                {
                    total += _totals[i];
                    failures += _failures[i];
                }
            }
            return (total, failures);
        }
    }
}
