using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tally.Gateway.Tests.Infrastructure;

/// <summary>
/// A small api instance on real Kestrel, on a free loopback port, whose behaviour the test controls:
/// /ready can fail or answer late, /api/hold waits for the test to open its gate, /ws echoes, any other request can be
/// shed as Tally's admission control does (503 <c>OVERLOADED</c> with Retry-After), and every answer says which
/// instance served it and which headers it was given.
/// </summary>
internal sealed class StubBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _hits;
    private int _held;
    private int _readyProbes;
    private int _overloaded;

    /// <summary>The Retry-After, in seconds, of a shed request.</summary>
    public const int OverloadedRetryAfterSeconds = 7;

    public string Name { get; }
    public Uri Url { get; private set; } = null!;
    public volatile bool Ready = true;

    /// <summary>How long /ready takes to answer, in milliseconds.</summary>
    public volatile int ReadyDelayMilliseconds;

    /// <summary>Share of requests (other than /ready, /api/hold, /api/hang and /ws), in percent, answered 503 OVERLOADED.</summary>
    public volatile int OverloadedPercent;

    public int ReadyProbes => Volatile.Read(ref _readyProbes);
    public int Overloaded => Volatile.Read(ref _overloaded);
    public int Hits => Volatile.Read(ref _hits);
    public int Held => Volatile.Read(ref _held);
    public ConcurrentQueue<Dictionary<string, string>> Requests { get; } = new();

    private StubBackend(string name, WebApplication app)
    {
        Name = name;
        _app = app;
    }

    public static async Task<StubBackend> StartAsync(string name)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var stub = new StubBackend(name, app);
        app.UseWebSockets();
        app.MapGet("/ready", async (HttpContext http) =>
        {
            Interlocked.Increment(ref stub._readyProbes);
            if (stub.ReadyDelayMilliseconds > 0)
            {
                await Task.Delay(stub.ReadyDelayMilliseconds, http.RequestAborted);
            }
            return stub.Ready ? Results.Ok(new { status = "healthy" }) : Results.StatusCode(503);
        });
        app.MapGet("/api/hold", async (HttpContext http) =>
        {
            stub.Record(http);
            Interlocked.Increment(ref stub._held);
            await stub._gate.Task.WaitAsync(http.RequestAborted);
            return Results.Ok(new { instance = stub.Name });
        });
        app.MapGet("/api/hang", async (HttpContext http) =>
        {
            stub.Record(http);
            await Task.Delay(Timeout.Infinite, http.RequestAborted);
        });
        app.Map("/ws", async (HttpContext http) =>
        {
            if (!http.WebSockets.IsWebSocketRequest)
            {
                return Results.StatusCode(400);
            }
            stub.Record(http);
            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, http.RequestAborted);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return Results.Empty;
                }
                var reply = System.Text.Encoding.UTF8.GetBytes($"{stub.Name}:{System.Text.Encoding.UTF8.GetString(buffer, 0, received.Count)}");
                await socket.SendAsync(reply, WebSocketMessageType.Text, true, http.RequestAborted);
            }
        });
        // Everything else: read the whole body, then say who served it and what arrived.
        app.Map("/{**rest}", async (HttpContext http) =>
        {
            var seen = stub.Record(http);
            http.Response.Headers["X-Instance"] = stub.Name;
            if (Random.Shared.Next(100) < stub.OverloadedPercent)
            {
                Interlocked.Increment(ref stub._overloaded);
                http.Response.Headers.RetryAfter = OverloadedRetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Results.Problem(statusCode: 503, detail: "The instance is at capacity; retry later.",
                    extensions: new Dictionary<string, object?> { ["error_code"] = "OVERLOADED" });
            }
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body, http.RequestAborted);
            seen["body_length"] = body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.Json(seen);
        });
        await app.StartAsync();
        stub.Url = new Uri(app.Urls.First());
        return stub;
    }

    private Dictionary<string, string> Record(HttpContext http)
    {
        Interlocked.Increment(ref _hits);
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["instance"] = Name,
            ["method"] = http.Request.Method,
            ["path"] = http.Request.Path.Value ?? "",
        };
        foreach (var header in http.Request.Headers)
        {
            seen["h:" + header.Key.ToLowerInvariant()] = header.Value.ToString();
        }
        Requests.Enqueue(seen);
        return seen;
    }

    /// <summary>Lets every held /api/hold request answer.</summary>
    public void OpenGate() => _gate.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        OpenGate();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}
