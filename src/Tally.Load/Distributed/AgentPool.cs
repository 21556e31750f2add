using System.Net.Sockets;
using HdrHistogram;

namespace Tally.Load.Distributed;

/// <summary>An agent that could not be reached, refused the setup, or disappeared mid-run: the run fails, never a silently smaller load.</summary>
public sealed class AgentException(string message) : Exception(message);

/// <summary>
/// The coordinator's side: one connection to each agent (<c>tally-load agent --listen</c>), set up
/// once, then for every engine run a step to each agent and its result back. The coordinator is
/// share 0 of every run and the agents shares 1..N, so the run is split N+1 ways.
/// </summary>
public sealed class AgentPool : IAsyncDisposable
{
    private readonly List<(string Address, TcpClient Client, AgentChannel Channel)> _agents = [];

    public int Count => _agents.Count;

    public IReadOnlyList<string> Addresses => [.. _agents.Select(a => a.Address)];

    /// <summary>Parses "host:port,host:port"; port 0 (any free port) only when <paramref name="listening"/>.</summary>
    public static IReadOnlyList<(string Host, int Port)> ParseAddresses(string text, bool listening = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        var list = new List<(string, int)>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = part.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(part[(colon + 1)..], out var port) || port < (listening ? 0 : 1) || port > 65535)
            {
                throw new ArgumentException($"agent '{part}' is not host:port");
            }
            list.Add((part[..colon].Trim('[', ']'), port));
        }
        if (list.Count == 0)
        {
            throw new ArgumentException("--agents is empty");
        }
        return list;
    }

    /// <param name="endpoints">The coordinator's endpoints: an agent that prepared other ones (another version of a shipped scenario) is refused.</param>
    public static async Task<AgentPool> ConnectAsync(string addresses, SetupMessage setup, CancellationToken cancellationToken, IReadOnlyList<string>? endpoints = null)
    {
        var pool = new AgentPool();
        try
        {
            foreach (var (host, port) in ParseAddresses(addresses))
            {
                var address = $"{host}:{port}";
                var client = new TcpClient { NoDelay = true };
                try
                {
                    using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    connect.CancelAfter(TimeSpan.FromSeconds(10));
                    await client.ConnectAsync(host, port, connect.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    client.Dispose();
                    throw new AgentException($"agent {address} could not be reached: {e.Message}");
                }
                pool._agents.Add((address, client, new AgentChannel(client.GetStream())));
            }
            // All agents prepare (log their users in) at once.
            await Task.WhenAll(pool._agents.Select(async a =>
            {
                await a.Channel.SendAsync(setup, cancellationToken).ConfigureAwait(false);
                switch (await a.Channel.ReceiveAsync(cancellationToken).ConfigureAwait(false))
                {
                    case ReadyMessage ready when endpoints is not null && !ready.Endpoints.SequenceEqual(endpoints):
                        throw new AgentException($"agent {a.Address} prepared the endpoints {string.Join(", ", ready.Endpoints)}, the coordinator {string.Join(", ", endpoints)}: not the same scenario (another tally-load version?)");
                    case ReadyMessage:
                        return;
                    case ErrorMessage error:
                        throw new AgentException($"agent {a.Address} refused the setup: {error.Message}");
                    case null:
                        throw new AgentException($"agent {a.Address} closed the connection during the setup");
                    default:
                        throw new AgentException($"agent {a.Address} answered the setup with something other than ready");
                }
            })).ConfigureAwait(false);
            return pool;
        }
        catch
        {
            await pool.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Sends each agent its share of the run (1..N of N+1) and waits for every result. The first
    /// agent lost fails the whole at once (and cancels <paramref name="lost"/>), without waiting
    /// for the others to finish their shares.
    /// </summary>
    public async Task<ResultMessage[]> RunAsync(EngineOptions options, CancellationTokenSource lost, CancellationToken cancellationToken, Stress.StressSetup? stress = null)
    {
        ArgumentNullException.ThrowIfNull(lost);
        var count = _agents.Count + 1;
        var pending = _agents.Select(async (a, i) =>
        {
            try
            {
                await a.Channel.SendAsync(StepMessage.From(options, new Partition(i + 1, count)) with { Stress = stress }, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new AgentException($"agent {a.Address} disappeared before the run started: {e.Message}");
            }
            return await a.Channel.ReceiveAsync(cancellationToken).ConfigureAwait(false) switch
            {
                ResultMessage result => result,
                ErrorMessage error => throw new AgentException($"agent {a.Address} failed mid-run: {error.Message}"),
                null => throw new AgentException($"agent {a.Address} disappeared mid-run (its connection closed before its result): the load it was to send is missing, so the run is void"),
                _ => throw new AgentException($"agent {a.Address} answered a step with something other than its result"),
            };
        }).ToList();
        var results = new ResultMessage[pending.Count];
        var left = pending.ToList();
        while (left.Count > 0)
        {
            var done = await Task.WhenAny(left).ConfigureAwait(false);
            if (done.IsFaulted || done.IsCanceled)
            {
                await lost.CancelAsync().ConfigureAwait(false);
                await done.ConfigureAwait(false);
            }
            results[pending.IndexOf(done)] = await done.ConfigureAwait(false);
            left.Remove(done);
        }
        return results;
    }

    /// <summary>
    /// The coordinator's own share and the agents' merged into one result: histograms bucket by
    /// bucket, counts, slices and per-second series added up (each second's percentiles from the
    /// merged histograms), plus each agent's share and CPU. The generator CPU stays the coordinator's own.
    /// </summary>
    public EngineResult Merge(LoadEngine local, EngineResult own, IReadOnlyList<ResultMessage> results)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(results);
        foreach (var r in results)
        {
            local.Metrics.Merge(r.Metrics);
        }
        var summary = local.Metrics.Summarize(own.Summary.DurationSeconds);
        var series = new List<Sample>();
        var histograms = new List<HistogramBase>();
        for (var i = 0; i < own.Series.Count; i++)
        {
            var h = (LongHistogram)Metrics.NewHistogram();
            if (i < own.SeriesHistograms.Count)
            {
                h.Add(own.SeriesHistograms[i]);
            }
            var s = own.Series[i];
            double rps = s.Rps, errors = s.ErrorsPerSecond, target = s.Target;
            int vus = s.Vus, active = s.Active;
            long backlog = s.Backlog, dropped = s.Dropped;
            foreach (var r in results.Where(r => i < r.Series.Count))
            {
                var x = r.Series[i];
                rps += x.Rps;
                errors += x.ErrorsPerSecond;
                target += x.Target;
                vus += x.Vus;
                active += x.Active;
                backlog += x.Backlog;
                dropped += x.Dropped;
                if (i < r.SeriesHistograms.Count)
                {
                    h.Add(HistogramText.Decode(r.SeriesHistograms[i]));
                }
            }
            static double Ms(HistogramBase h, double p) => h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(p) / 1000.0;
            series.Add(s with
            {
                Rps = rps, ErrorsPerSecond = errors, Target = Math.Round(target, 2), Vus = vus, Active = active, Backlog = backlog, Dropped = dropped,
                P50 = Ms(h, 50), P90 = Ms(h, 90), P99 = Ms(h, 99), Max = h.TotalCount == 0 ? 0 : h.GetMaxValue() / 1000.0,
            });
            histograms.Add(h);
        }
        var total = Math.Max(1, summary.Requests);
        var agents = results.Select((r, i) =>
        {
            var requests = HistogramText.Decode(r.Metrics.Overall).TotalCount;
            return new AgentShare(_agents[i].Address, i + 1, requests, Math.Round(100.0 * requests / total, 2), r.GeneratorCpuPercent, r.GeneratorCpuMaxPercent);
        }).Prepend(new AgentShare("coordinator", 0, own.Summary.Requests, Math.Round(100.0 * own.Summary.Requests / total, 2), own.GeneratorCpuPercent, own.GeneratorCpuMaxPercent));
        var abort = results.FirstOrDefault(r => r.Aborted);
        return new EngineResult
        {
            Summary = summary,
            Series = series,
            SeriesHistograms = histograms,
            GeneratorCpuPercent = own.GeneratorCpuPercent,
            GeneratorCpuMaxPercent = own.GeneratorCpuMaxPercent,
            Aborted = own.Aborted || abort is not null,
            AbortReason = own.AbortReason ?? abort?.AbortReason,
            BacklogAtEnd = own.BacklogAtEnd + results.Sum(r => r.BacklogAtEnd),
            Agents = [.. agents],
        };
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, client, channel) in _agents)
        {
            await channel.DisposeAsync().ConfigureAwait(false);
            client.Dispose();
        }
        _agents.Clear();
    }
}
