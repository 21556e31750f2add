using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Tally.Server.Http;

/// <summary>Describes the session scheme, so that the /docs page can log in through /api/auth/token and send the token.</summary>
internal sealed class SessionSecurityTransformer : IOpenApiDocumentTransformer
{
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info.Title = "Tally API";
        document.Info.Description = "Banking REST API: auth, accounts, transfers with holds, notifications.";
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes["session"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.OAuth2,
            Description = "Log in with your phone as the username; the token is sent as Authorization: Bearer.",
            Flows = new OpenApiOAuthFlows
            {
                Password = new OpenApiOAuthFlow { TokenUrl = new Uri("/api/auth/token", UriKind.Relative) },
            },
        };
        document.Security ??= [];
        document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("session", document)] = [] });
        return Task.CompletedTask;
    }
}
