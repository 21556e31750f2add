using System.Net;
using System.Net.Sockets;

namespace Tally.Load.Scenarios;

public static class Http
{
    /// <summary>A client for loopback load: one pooled connection per virtual user, no proxy, no cookies.</summary>
    public static HttpClient CreateClient(int connections, TimeSpan timeout) =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(1, connections),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        })
        { Timeout = timeout };

    /// <summary>Loopback targets only: a load tool must not be pointed at someone else's server.</summary>
    public static void EnsureLoopback(Uri uri)
    {
        var host = uri.IdnHost.Trim('[', ']');
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }
        if (!IPAddress.TryParse(host, out var ip) || !IPAddress.IsLoopback(ip))
        {
            throw new ArgumentException($"'{uri}' is not a loopback address: tally-load only targets 127.0.0.1, ::1 or localhost");
        }
    }

    /// <summary>Sends, drains the body, and classifies the result; a body is parsed only on failure.</summary>
    public static async ValueTask<Outcome> SendAsync(HttpClient client, HttpRequestMessage request, int endpoint, CancellationToken ct, int acceptStatus = 0)
    {
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode || status == acceptStatus)
            {
                await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                await stream.CopyToAsync(Stream.Null, ct).ConfigureAwait(false);
                return Outcome.Success(endpoint, status);
            }
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            return Outcome.Failed(endpoint, status, $"{status} {ErrorCode(body)}".TrimEnd()) with { RetryAfter = response.Headers.RetryAfter is not null };
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Outcome.Failed(endpoint, 0, "timeout");
        }
        catch (HttpRequestException e)
        {
            var socket = e.InnerException as SocketException ?? e.InnerException?.InnerException as SocketException;
            return Outcome.Failed(endpoint, 0, socket is null ? $"http {e.HttpRequestError}" : $"socket {socket.SocketErrorCode}");
        }
        finally
        {
            request.Dispose();
        }
    }

    public static string? ErrorCode(string body)
    {
        if (string.IsNullOrEmpty(body) || body[0] != '{')
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("error_code", out var code) ? code.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>The generic mode: GET (or another method) on any loopback URL.</summary>
public sealed class UrlScenario(Uri url, HttpMethod method) : IScenario
{
    public string Name => "url";
    public IReadOnlyList<string> Endpoints { get; } = [$"{method} {url.AbsolutePath}"];

    public ValueTask<Outcome> ExecuteAsync(VuContext context, CancellationToken cancellationToken) =>
        Http.SendAsync(context.Client, new HttpRequestMessage(method, url), 0, cancellationToken);
}
