using System.Diagnostics;

namespace Tally.Load.Engine;

/// <summary>One reading of the server's /metrics. Rates are over the second before it; null when the series is absent.</summary>
public sealed record ServerSample(
    double T, double? CpuPercent, double? WorkingSetMb, double? BusQueueDepth, double? ThreadPoolQueue,
    double? ThreadPoolThreads, double? GcPauseMsPerSecond, double? TransfersPerSecond);

/// <summary>What the server reported during a run or a capacity step.</summary>
public sealed record ServerSummary(
    string Url, int Samples, double? CpuPercentMean, double? CpuPercentMax, double? BusQueueDepthMax,
    double? ThreadPoolQueueMax, double? WorkingSetMbMax);

/// <summary>
/// Reads the server's Prometheus /metrics once a second while a run goes on, on its own
/// connection (so it neither queues behind the load nor counts in it): the bus queue depth,
/// process CPU, working set, thread-pool queue, GC pauses and committed transfers. A server
/// without /metrics just yields no samples.
/// </summary>
public sealed class ServerMetricsSampler : IAsyncDisposable
{
    private readonly Uri _url;
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 1 }) { Timeout = TimeSpan.FromSeconds(2) };
    private readonly List<ServerSample> _samples = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly long _start = Stopwatch.GetTimestamp();
    private Task? _loop;
    private int _failures;

    private ServerMetricsSampler(Uri url) => _url = url;

    public Uri Url => _url;

    /// <summary>Seconds since the sampler was created: the clock of <see cref="ServerSample.T"/>.</summary>
    public double Now => Stopwatch.GetElapsedTime(_start).TotalSeconds;

    public IReadOnlyList<ServerSample> Samples { get { lock (_gate) { return [.. _samples]; } } }

    /// <summary>A sampler of <paramref name="url"/>, already sampling; none without a URL.</summary>
    public static ServerMetricsSampler? StartFor(Uri? url)
    {
        if (url is null)
        {
            return null;
        }
        var sampler = new ServerMetricsSampler(url);
        sampler._loop = sampler.LoopAsync(sampler._stop.Token);
        return sampler;
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        Dictionary<string, double>? previous = null;
        var previousT = 0.0;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        // Gives up after a few misses in a row: the target has no /metrics, or it is down.
        while (_failures < 3 && !ct.IsCancellationRequested)
        {
            var values = await ReadAsync(ct).ConfigureAwait(false);
            var t = Now;
            if (values is null)
            {
                _failures++;
            }
            else
            {
                _failures = 0;
                if (previous is not null)
                {
                    lock (_gate)
                    {
                        _samples.Add(ToSample(Math.Round(t, 3), t - previousT, previous, values));
                    }
                }
                previous = values;
                previousT = t;
            }
            try
            {
                await timer.WaitForNextTickAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static ServerSample ToSample(double t, double span, Dictionary<string, double> before, Dictionary<string, double> now)
    {
        double? Gauge(string name) => now.TryGetValue(name, out var v) ? v : null;
        double? Rate(string name) => now.TryGetValue(name, out var v) && before.TryGetValue(name, out var b) && span > 0 ? Math.Max(0, v - b) / span : null;
        var cpus = Gauge("dotnet_process_cpu_count") ?? Environment.ProcessorCount;
        return new ServerSample(
            t,
            Rate("dotnet_process_cpu_time_seconds_total") is { } cpu ? Math.Round(100 * cpu / Math.Max(1, cpus), 1) : null,
            Gauge("dotnet_process_memory_working_set_bytes") is { } ws ? Math.Round(ws / 1048576, 1) : null,
            Gauge("tally_bus_queue_depth"),
            Gauge("dotnet_thread_pool_queue_length_total"),
            Gauge("dotnet_thread_pool_thread_count_total"),
            Rate("dotnet_gc_pause_time_seconds_total") is { } gc ? Math.Round(1000 * gc, 2) : null,
            Rate("tally_transfers_total") is { } tr ? Math.Round(tr, 1) : null);
    }

    private async Task<Dictionary<string, double>?> ReadAsync(CancellationToken ct)
    {
        try
        {
            using var response = await _client.GetAsync(_url, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }
            var values = Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            return values.Count == 0 ? null : values;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Prometheus text format: the value of each series, summed over its labels, per metric name.</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0)
            {
                continue;
            }
            string name;
            string rest;
            if (brace > 0 && brace < space)
            {
                var close = line.LastIndexOf('}');
                if (close < brace)
                {
                    continue;
                }
                name = line[..brace];
                rest = line[(close + 1)..].Trim();
            }
            else
            {
                name = line[..space];
                rest = line[(space + 1)..].Trim();
            }
            var valueText = rest.Split(' ', 2)[0];
            if (double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
            {
                values[name] = values.GetValueOrDefault(name) + value;
            }
        }
        return values;
    }

    /// <summary>The samples taken between two readings of <see cref="Now"/>, summarised; null without any.</summary>
    public ServerSummary? Summarize(double from = double.NegativeInfinity, double to = double.PositiveInfinity)
    {
        var s = Samples.Where(x => x.T >= from && x.T <= to).ToList();
        if (s.Count == 0)
        {
            return null;
        }
        static double? R(double? v) => v is { } x ? Math.Round(x, 1) : null;
        var cpu = s.Where(x => x.CpuPercent is not null).Select(x => x.CpuPercent!.Value).ToList();
        return new ServerSummary(
            _url.ToString(), s.Count,
            cpu.Count > 0 ? R(cpu.Average()) : null, cpu.Count > 0 ? R(cpu.Max()) : null,
            s.Max(x => x.BusQueueDepth), s.Max(x => x.ThreadPoolQueue), s.Max(x => x.WorkingSetMb));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
        _client.Dispose();
    }
}
