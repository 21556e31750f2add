namespace Tally.Server.Admission;

/// <summary>The kinds of work that each get their own limit, so that one can't starve the others.</summary>
public enum Bulkhead
{
    /// <summary>Logins and tokens: CPU-bound password hashing.</summary>
    Login,

    /// <summary>Writes: everything that goes through the command bus (and logout, marking read).</summary>
    Write,

    /// <summary>Reads: GET, HEAD and OPTIONS.</summary>
    Read,
}

public static class Bulkheads
{
    /// <summary>
    /// The bulkhead of a request, or null for what is never refused: /health, /ready, /metrics (so that load can
    /// never turn into failed probes), and /ws (a socket would hold a slot for hours).
    /// </summary>
    public static Bulkhead? Of(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = request.Path;
        if (ServiceDefaultsExtensions.IsOperationsPath(path) || path.StartsWithSegments("/ws"))
        {
            return null;
        }
        var method = request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method))
        {
            return Bulkhead.Read;
        }
        if (path.StartsWithSegments("/api/auth/login") || path.StartsWithSegments("/api/auth/token"))
        {
            return Bulkhead.Login;
        }
        return Bulkhead.Write;
    }

    public static string Name(this Bulkhead bulkhead) => bulkhead switch
    {
        Bulkhead.Login => "login",
        Bulkhead.Write => "write",
        _ => "read",
    };
}
