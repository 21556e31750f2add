using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Tally.Gateway.Proxy.Health;

/// <summary>
/// What the gateway's health and load-balancing policies share about the pool, beyond YARP's health states: which
/// instances refuse connections (panic routing skips them), when each instance joined the pool (its slow-start weight),
/// and whether a cluster is in panic.
/// </summary>
public sealed class UpstreamPool(TimeProvider time, IOptions<GatewayOptions> options)
{
    /// <summary>The share a joining instance starts at, so that it is tried at once (Envoy's min_weight_percent).</summary>
    public const double MinimumWeight = 0.1;

    private readonly TimeSpan _window = options.Value.HealthChecks.SlowStartWindow;
    private readonly ConditionalWeakTable<DestinationState, Entry> _entries = new();
    private readonly ConcurrentDictionary<string, bool> _panic = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether the instance's last probe could not connect at all.</summary>
    public bool IsUnreachable(DestinationState destination) => _entries.TryGetValue(destination, out var entry) && entry.Unreachable;

    /// <summary>Records whether the instance's last probe could connect; true when that changed.</summary>
    internal bool SetUnreachable(DestinationState destination, bool unreachable)
    {
        var entry = _entries.GetOrCreateValue(destination);
        var changed = entry.Unreachable != unreachable;
        entry.Unreachable = unreachable;
        return changed;
    }

    /// <summary>The pool's clock: one reading serves a whole decision, so that instances that joined together weigh the same.</summary>
    public long Now() => time.GetTimestamp();

    /// <summary>Records whether an instance is in the pool at <paramref name="now"/>; joining it (for the first time, or again) starts its ramp.</summary>
    internal void Observe(DestinationState destination, bool inPool, long now)
    {
        var entry = _entries.GetOrCreateValue(destination);
        lock (entry)
        {
            if (inPool && !entry.InPool)
            {
                entry.JoinedAt = now;
            }
            entry.InPool = inPool;
        }
    }

    /// <summary>
    /// The instance's share factor for the load balancer, from <see cref="MinimumWeight"/> when it has just joined to 1
    /// once <see cref="HealthCheckOptions.SlowStartWindow"/> has passed. An instance out of the pool (routed to only in
    /// panic) and one never observed weigh 1: there is nothing to ramp it against.
    /// </summary>
    public double Weight(DestinationState destination) => Weight(destination, Now());

    /// <summary>The instance's share factor at <paramref name="now"/> (see <see cref="Weight(DestinationState)"/>).</summary>
    public double Weight(DestinationState destination, long now)
    {
        if (_window <= TimeSpan.Zero || !_entries.TryGetValue(destination, out var entry))
        {
            return 1.0;
        }
        long joinedAt;
        lock (entry)
        {
            if (!entry.InPool)
            {
                return 1.0;
            }
            joinedAt = entry.JoinedAt;
        }
        var share = time.GetElapsedTime(joinedAt, now) / _window;
        return share >= 1.0 ? 1.0 : Math.Max(MinimumWeight, share);
    }

    internal void SetPanic(string clusterId, bool panic) => _panic[clusterId] = panic;

    /// <summary>Whether fewer than the panic threshold of the cluster's instances look healthy, so that it routes to all of them.</summary>
    public bool InPanic(string clusterId) => _panic.TryGetValue(clusterId, out var panic) && panic;

    private sealed class Entry
    {
        public volatile bool Unreachable;
        public bool InPool;
        public long JoinedAt;
    }
}
