using Microsoft.AspNetCore.StaticFiles;

namespace Tally.Server.Features.WebApp;

/// <summary>The browser app: hand-written ES modules and CSS under wwwroot, served as static files.</summary>
public static class WebAppSetup
{
    /// <summary>The policy the gateway sets too (agreed between them), so the app is proven to work under it without the gateway.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; " +
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

    /// <summary>
    /// Serves / (index.html) and its assets. Static files only answer paths no endpoint matched, so /api keeps
    /// its 404 and 405 problems; the app routes with the URL fragment (/#/login), so no fallback route is needed.
    /// </summary>
    public static WebApplication MapTallyWebApp(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseDefaultFiles();
        var contentTypes = new FileExtensionContentTypeProvider();
        contentTypes.Mappings[".html"] = "text/html; charset=utf-8";
        contentTypes.Mappings[".js"] = "text/javascript; charset=utf-8";
        contentTypes.Mappings[".css"] = "text/css; charset=utf-8";
        app.UseStaticFiles(new StaticFileOptions
        {
            ContentTypeProvider = contentTypes,
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                headers.XFrameOptions = "DENY";
                // Revalidate every time (ETag): a deploy reaches every open browser on its next load.
                headers.CacheControl = "no-cache";
            },
        });
        return app;
    }
}
