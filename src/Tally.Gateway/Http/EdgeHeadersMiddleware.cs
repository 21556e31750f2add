using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Primitives;

namespace Tally.Gateway.Http;

/// <summary>
/// X-Request-Id (a sane one from the client is kept, otherwise one is made) goes upstream and back to the
/// client, and every response carries the security headers. Both are written as the response starts, so
/// they hold for proxied answers, the gateway's own refusals, and errors alike, and never appear twice.
/// </summary>
public sealed class EdgeHeadersMiddleware
{
    public const string RequestIdHeader = "X-Request-Id";

    private static readonly SearchValues<char> s_idChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:");
    private static readonly StringValues s_nosniff = "nosniff";
    private static readonly StringValues s_deny = "DENY";
    private readonly RequestDelegate _next;
    private readonly StringValues _csp;
    private readonly StringValues _referrerPolicy;
    private readonly StringValues _hsts;
    private readonly Func<object, Task> _onStarting;

    public EdgeHeadersMiddleware(RequestDelegate next, IOptions<GatewayOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _next = next;
        var headers = options.Value.SecurityHeaders;
        _csp = headers.ContentSecurityPolicy;
        _referrerPolicy = headers.ReferrerPolicy;
        _hsts = headers.StrictTransportSecurity;
        _onStarting = OnStarting;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var requestHeaders = context.Request.Headers;
        var given = requestHeaders[RequestIdHeader];
        if (given.Count != 1 || !IsSane(given[0]))
        {
            requestHeaders[RequestIdHeader] = Activity.Current?.TraceId.ToHexString() ?? Guid.NewGuid().ToString("N");
        }
        context.Response.OnStarting(_onStarting, context);
        return _next(context);
    }

    private static bool IsSane(string? id) =>
        id is { Length: > 0 and <= 128 } && !id.AsSpan().ContainsAnyExcept(s_idChars);

    private Task OnStarting(object state)
    {
        var context = (HttpContext)state;
        var headers = context.Response.Headers;
        headers[RequestIdHeader] = context.Request.Headers[RequestIdHeader];
        // The instances' server software is nobody's business.
        headers.Remove("Server");
        headers.XContentTypeOptions = s_nosniff;
        headers.XFrameOptions = s_deny;
        headers["Referrer-Policy"] = _referrerPolicy;
        // An instance that sets its own policy (the /docs page) knows its page; otherwise the gateway's holds.
        if (StringValues.IsNullOrEmpty(headers.ContentSecurityPolicy))
        {
            headers.ContentSecurityPolicy = _csp;
        }
        if (context.Request.IsHttps)
        {
            headers.StrictTransportSecurity = _hsts;
        }
        return Task.CompletedTask;
    }
}
