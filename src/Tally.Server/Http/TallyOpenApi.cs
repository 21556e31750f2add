using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.OpenApi;
using Tally.Server.Features.Accounts;
using Tally.Server.Features.Transfers;

namespace Tally.Server.Http;

/// <summary>
/// What the endpoint metadata can't say in the OpenAPI document: the security schemes, each problem's
/// <c>error_code</c> enum, the idempotency headers, the string-typed query parameters' real shapes, and examples.
/// </summary>
public static class TallyOpenApi
{
    public const string SessionScheme = "session";
    public const string BearerScheme = "bearer";
    public const string LoginScheme = "login";
    public const string AdminScheme = "adminSecret";

    public static OpenApiOptions AddTallyTransformers(this OpenApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.AddDocumentTransformer<DocumentTransformer>();
        options.AddOperationTransformer<OperationTransformer>();
        options.AddSchemaTransformer<SchemaTransformer>();
        return options;
    }

    private static readonly Dictionary<string, string> TagDescriptions = new(StringComparer.Ordinal)
    {
        ["Auth"] = "Register, log in (a session token), log out.",
        ["Account"] = "The signed-in user's account: profile, balance, history, and account lookup.",
        ["Admin"] = "Operator views of users, transfers, notifications and the money audit; they need X-Admin-Secret.",
        ["Transfer"] = "Instant transfers and holds (confirm, cancel), idempotent by client_ref or Idempotency-Key.",
        ["Notifications"] = "Notifications written with each transfer; live ones are pushed on the /ws WebSocket.",
    };

    internal sealed class DocumentTransformer : IOpenApiDocumentTransformer
    {
        public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
        {
            document.Info.Title = "Tally API";
            document.Info.Description =
                "Banking REST API: auth, accounts, transfers with holds, notifications. Money is an integer number of minor units. "
                + "Errors are RFC 9457 problem details with a stable error_code. To try the calls here, authorize with a session "
                + "(log in through the password flow with your phone as the username, or paste the session from POST /api/auth/login).";
            foreach (var server in document.Servers ?? [])
            {
                if (server.Url is { Length: > 1 } url && url.EndsWith('/'))
                {
                    server.Url = url.TrimEnd('/');
                }
            }
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[SessionScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = AuthSetup.SessionHeader,
                Description = "The session from POST /api/auth/login, sent as X-Session.",
            };
            document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "The same session, sent as Authorization: Bearer.",
            };
            document.Components.SecuritySchemes[LoginScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.OAuth2,
                Description = "Log in with your phone as the username; the token is sent as Authorization: Bearer.",
                Flows = new OpenApiOAuthFlows
                {
                    Password = new OpenApiOAuthFlow { TokenUrl = new Uri("/api/auth/token", UriKind.Relative), Scopes = new Dictionary<string, string>() },
                },
            };
            document.Components.SecuritySchemes[AdminScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = AdminApi.SecretHeader,
                Description = "The configured Admin:Secret; without one configured, the admin endpoints answer 403 ADMIN_DISABLED.",
            };
            foreach (var tag in document.Tags ?? new HashSet<OpenApiTag>())
            {
                if (tag.Name is { } name && TagDescriptions.TryGetValue(name, out var description))
                {
                    tag.Description = description;
                }
            }
            return Task.CompletedTask;
        }
    }

    internal sealed class OperationTransformer : IOpenApiOperationTransformer
    {
        public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            operation.Responses ??= new OpenApiResponses();
            foreach (var byStatus in metadata.OfType<ErrorCodesMetadata>().GroupBy(m => m.Status))
            {
                var codes = byStatus.SelectMany(m => m.Codes).Distinct(StringComparer.Ordinal).ToList();
                DescribeProblem(operation.Responses, byStatus.Key, codes, context.Document);
            }
            operation.Security = SecurityOf(metadata, context.Document);
            if (metadata.OfType<IdempotentMetadata>().Any())
            {
                DescribeIdempotency(operation);
            }
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
            {
                if (parameter.Name is { } name && QueryShapes.TryGetValue(name, out var shape) && parameter.In == ParameterLocation.Query)
                {
                    parameter.Schema = shape.Schema();
                    parameter.Description = shape.Description;
                }
            }
            return Task.CompletedTask;
        }

        private static void DescribeProblem(OpenApiResponses responses, int status, List<string> codes, OpenApiDocument? document)
        {
            var key = status.ToString(CultureInfo.InvariantCulture);
            if (!responses.TryGetValue(key, out var existing) || existing is not OpenApiResponse response)
            {
                response = new OpenApiResponse();
                responses[key] = response;
            }
            response.Description = string.IsNullOrEmpty(response.Description) || response.Description == ReasonPhrases.GetReasonPhrase(status)
                ? $"{ReasonPhrases.GetReasonPhrase(status)}: a problem with error_code {string.Join(", ", codes)}."
                : response.Description;
            response.Content ??= new Dictionary<string, OpenApiMediaType>();
            response.Content[ApiDocs.ProblemContentType] = new OpenApiMediaType
            {
                Schema = new OpenApiSchema
                {
                    AllOf =
                    [
                        new OpenApiSchemaReference(nameof(ProblemDetails), document),
                        new OpenApiSchema
                        {
                            Type = JsonSchemaType.Object,
                            Properties = new Dictionary<string, IOpenApiSchema>
                            {
                                ["error_code"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. codes.Select(c => (JsonNode)c)] },
                            },
                        },
                    ],
                },
            };
            if (status is StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable)
            {
                response.Headers ??= new Dictionary<string, IOpenApiHeader>();
                response.Headers["Retry-After"] = new OpenApiHeader
                {
                    Description = "Seconds to wait before retrying.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "0" },
                };
            }
        }

        private static List<OpenApiSecurityRequirement> SecurityOf(IList<object> metadata, OpenApiDocument? document)
        {
            if (metadata.OfType<AdminSecretMetadata>().Any())
            {
                return [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(AdminScheme, document)] = [] }];
            }
            if (metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any())
            {
                return
                [
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SessionScheme, document)] = [] },
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] },
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(LoginScheme, document)] = [] },
                ];
            }
            // An empty requirement: no credentials needed.
            return [new OpenApiSecurityRequirement()];
        }

        private static void DescribeIdempotency(OpenApiOperation operation)
        {
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
            {
                if (string.Equals(parameter.Name, TransferApi.IdempotencyKeyHeader, StringComparison.OrdinalIgnoreCase))
                {
                    parameter.Description = "The client_ref of this transfer. Repeating a request with the same key and payload replays the first result "
                        + "(Idempotent-Replayed: true) and moves no money; the same key with another payload gets 409 DUPLICATE_CLIENT_REF.";
                    parameter.Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = TransferText.MaxClientRefLength };
                }
            }
            if (operation.Responses?.TryGetValue("200", out var ok) == true && ok is OpenApiResponse response)
            {
                response.Headers ??= new Dictionary<string, IOpenApiHeader>();
                response.Headers[TransferApi.ReplayedHeader] = new OpenApiHeader
                {
                    Description = "Present, as true, when this answer replays an earlier request with the same key.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [(JsonNode)"true"] },
                };
            }
        }

        private sealed record QueryShape(string Description, Func<OpenApiSchema> Schema);

        // Bound as strings so that a bad value gets its own error_code (INVALID_PAGE) rather than a binding failure.
        private static readonly Dictionary<string, QueryShape> QueryShapes = new(StringComparer.Ordinal)
        {
            ["page"] = new("The page, from 1 (default 1).", () => new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1", Maximum = "1000000", Default = 1 }),
            ["size"] = new($"Items per page, 1 to {Paging.MaxSize} (default {Paging.DefaultSize}).", () => new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1", Maximum = Paging.MaxSize.ToString(CultureInfo.InvariantCulture), Default = Paging.DefaultSize }),
            ["user_id"] = new("Only this user's notifications.", () => new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64", Minimum = "1" }),
            ["search"] = new("Matches username, phone or account number.", () => new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 100 }),
            ["account_number"] = new("The 12-digit account number to look up.", () => new OpenApiSchema { Type = JsonSchemaType.String, Pattern = "^[0-9]{12}$" }),
        };
    }

    internal sealed class SchemaTransformer(IOptions<HttpJsonOptions> json, IOptions<TransferOptions> transfers) : IOpenApiSchemaTransformer
    {
        private static readonly string[] Statuses = [TransferStatus.Pending, TransferStatus.Success, TransferStatus.Cancelled, TransferStatus.Expired];

        public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
        {
            var property = context.JsonPropertyInfo;
            if (property is null)
            {
                DescribeType(schema, context.JsonTypeInfo.Type);
                return Task.CompletedTask;
            }
            var owner = property.DeclaringType;
            switch (property.Name)
            {
                case "created_at" or "hold_until":
                    schema.Format = "date-time";
                    break;
                case "status" when owner == typeof(Storage.TransferView) || owner == typeof(Storage.TransactionItem) || owner == typeof(Storage.AdminTransfer):
                    schema.Enum = [.. Statuses.Select(s => (JsonNode)s)];
                    break;
                case "direction" when owner == typeof(Storage.TransactionItem) || owner == typeof(Storage.AdminUserTransfer):
                    schema.Enum = [(JsonNode)"in", (JsonNode)"out"];
                    break;
                case "amount" when owner == typeof(TransferRequest):
                    schema.Minimum = "1";
                    schema.Maximum = transfers.Value.MaxAmount.ToString(CultureInfo.InvariantCulture);
                    break;
            }
            return Task.CompletedTask;
        }

        private void DescribeType(OpenApiSchema schema, Type type)
        {
            if (type == typeof(ProblemDetails))
            {
                schema.Description = "An RFC 9457 problem; error_code is stable, detail is a sentence to show people.";
                schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
                schema.Properties["error_code"] = new OpenApiSchema { Type = JsonSchemaType.String, Pattern = "^[A-Z][A-Z0-9_]*$", Description = "A stable UPPER_SNAKE code." };
                schema.Properties["trace_id"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The trace of this request, for support." };
                schema.Required = new HashSet<string>(StringComparer.Ordinal) { "type", "status", "detail", "error_code", "trace_id" };
            }
            if (ApiExamples.For(type) is { } example && JsonSerializer.SerializeToNode(example, type, json.Value.SerializerOptions) is { } node)
            {
                schema.Examples = [node];
            }
        }
    }
}
