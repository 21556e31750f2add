using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tally.Load.Tests;

/// <summary>
/// A Kestrel server on 127.0.0.1:0 with known behaviour: an injected latency per request, an
/// optional concurrency limit, and an optional stall. It records the service time it really gave.
/// </summary>
/// <remarks>
/// With a concurrency limit c and service time S the stub is an exact FCFS queue with c servers:
/// each request is booked on the earliest free of c slots, starts at max(arrival, slot free) and
/// ends exactly S later on the stub's own clock, so its capacity is c / S whatever the timers do.
/// A semaphore around Task.Delay(S) is not that: on a busy 2-core machine the delay overshoots
/// by 3–20 ms and the hand-off to the next waiter adds more, so its real capacity drifted with
/// load (8 / 31 ms ≈ 258 instead of 320 req/s) and couldn't be stated in advance.
/// </remarks>
public sealed class StubServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly long[]? _slotFree;
    private long _counter;
    private long _refused;
    private long _echoes;
    private volatile TaskCompletionSource? _stall;

    public ConcurrentQueue<double> ServiceMs { get; } = new();

    /// <summary>The bodies /echo received, in order.</summary>
    public ConcurrentQueue<string> Echoed { get; } = new();

    /// <summary>The request targets /echo received, as sent (still percent-encoded), in order.</summary>
    public ConcurrentQueue<string> Targets { get; } = new();

    /// <summary>The server's root, for scenario files (<see cref="Url"/> is its /work).</summary>
    public Uri Root => new(Url, "/");
    public Uri Url { get; private set; } = null!;

    private StubServer(Func<long, TimeSpan> latency, int concurrencyLimit, bool refuseWhenFull)
    {
        _slotFree = concurrencyLimit > 0 ? new long[concurrencyLimit] : null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        async Task<IResult> Work(HttpContext context)
        {
            if (_stall is { } stall)
            {
                await stall.Task.ConfigureAwait(false);
            }
            var clock = Stopwatch.StartNew();
            var delay = latency(Interlocked.Increment(ref _counter));
            if (_slotFree is not null)
            {
                if (Book(delay, refuseWhenFull) is not { } wait)
                {
                    // Tally's admission control: refused at once, before any work, with Retry-After.
                    Interlocked.Increment(ref _refused);
                    context.Response.Headers.RetryAfter = "1";
                    return Results.Json(new { type = "about:blank", title = "Overloaded", status = 503, error_code = "OVERLOADED" },
                        statusCode: 503, contentType: "application/problem+json");
                }
                delay = wait;
            }
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, context.RequestAborted).ConfigureAwait(false);
            }
            ServiceMs.Enqueue(clock.Elapsed.TotalMilliseconds);
            return Results.Text("ok");
        }
        Delegate work = Work;
        _app.MapGet("/work", work);
        // Any path below /work behaves the same: endpoints with long names.
        _app.MapGet("/work/{**rest}", work);
        // For scenario files: answers what it received, as JSON (n counts the echoes).
        async Task<IResult> Echo(HttpContext context)
        {
            var n = Interlocked.Increment(ref _echoes);
            using var reader = new StreamReader(context.Request.Body);
            var text = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
            Echoed.Enqueue(text);
            var body = text.Length == 0 ? (System.Text.Json.JsonElement?)null : System.Text.Json.JsonDocument.Parse(text).RootElement.Clone();
            var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
            var target = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
            Targets.Enqueue(target ?? "");
            return Results.Json(new { n, method = context.Request.Method, path = context.Request.Path.Value, query = context.Request.QueryString.Value, target, headers, body });
        }
        Delegate echo = Echo;
        _app.MapMethods("/echo", ["GET", "POST", "PUT"], echo);
        _app.MapMethods("/echo/{**rest}", ["GET", "POST", "PUT"], echo);
        _app.MapGet("/status/{code:int}", (int code) => code < 300 ? Results.Text("not json", statusCode: code)
            : Results.Json(new { status = code, error_code = "STUB_" + code }, statusCode: code, contentType: "application/problem+json"));
        // A Prometheus page shaped like Tally's: labelled series that the sampler sums per name.
        _app.MapGet("/metrics", () => Results.Text(string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""
            # TYPE tally_bus_queue_depth gauge
            tally_bus_queue_depth{otel_scope_name="Tally",transport="inprocess"} {{QueueDepth}}
            dotnet_process_cpu_count{otel_scope_name="System.Runtime"} 2
            dotnet_process_cpu_time_seconds_total{cpu_mode="user"} {{Environment.TickCount64 / 4000.0}}
            dotnet_process_cpu_time_seconds_total{cpu_mode="system"} {{Environment.TickCount64 / 4000.0}}
            dotnet_process_memory_working_set_bytes 104857600

            """), "text/plain; version=0.0.4"));
    }

    /// <summary>Books the request on the earliest free slot; returns how long until it is done, or null when refusing and no slot is free now.</summary>
    private TimeSpan? Book(TimeSpan service, bool refuseWhenFull)
    {
        lock (_slotFree!)
        {
            var now = Stopwatch.GetTimestamp();
            var slot = 0;
            for (var i = 1; i < _slotFree.Length; i++)
            {
                if (_slotFree[i] < _slotFree[slot])
                {
                    slot = i;
                }
            }
            // A queue of at most one service time per slot absorbs the generator's own bursts (a busy
            // 2-core machine sends late arrivals in clumps); beyond it the request is refused.
            if (refuseWhenFull && _slotFree[slot] - now > (long)(service.TotalSeconds * Stopwatch.Frequency))
            {
                return null;
            }
            var end = Math.Max(now, _slotFree[slot]) + (long)(service.TotalSeconds * Stopwatch.Frequency);
            _slotFree[slot] = end;
            return Stopwatch.GetElapsedTime(now, end);
        }
    }

    /// <summary>The value /metrics reports as tally_bus_queue_depth.</summary>
    public int QueueDepth { get; set; }

    /// <summary>Requests that reached /work.</summary>
    public long Received => Interlocked.Read(ref _counter);

    /// <summary>Requests refused with 503 OVERLOADED (only with refuseWhenFull).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <param name="refuseWhenFull">With a concurrency limit: answer 503 OVERLOADED with Retry-After at once, instead of queueing, when a request would wait more than one service time for a slot.</param>
    public static async Task<StubServer> StartAsync(Func<long, TimeSpan> latency, int concurrencyLimit = 0, bool refuseWhenFull = false)
    {
        var stub = new StubServer(latency, concurrencyLimit, refuseWhenFull);
        await stub._app.StartAsync().ConfigureAwait(false);
        stub.Url = new Uri(stub._app.Urls.First() + "/work");
        return stub;
    }

    /// <summary>Holds every request that arrives from now until <paramref name="length"/> has passed.</summary>
    public void StallFor(TimeSpan length)
    {
        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stall = stall;
        _ = Task.Delay(length).ContinueWith(_ => { _stall = null; stall.TrySetResult(); }, TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
