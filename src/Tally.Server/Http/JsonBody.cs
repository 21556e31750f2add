using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;

namespace Tally.Server.Http;

/// <summary>
/// A JSON object body, read as minimal APIs read a body parameter (415 for another media type, 400
/// MALFORMED_JSON for text that is not a JSON object, 413 past the limit, absent when there is no body or it is
/// null), but kept as its fields: each typed request reads its own fields, so that a wrong JSON type is that
/// field's own answer (a float amount is INVALID_AMOUNT), not a parse failure. Bound by <see cref="BindAsync"/>,
/// so it is not described as a body parameter; the endpoint's <c>Accepts&lt;TRequest&gt;</c> describes it.
/// </summary>
public sealed class JsonBody
{
    private static readonly JsonBody None = new(null);

    private readonly Dictionary<string, JsonElement>? _fields;

    private JsonBody(Dictionary<string, JsonElement>? fields) => _fields = fields;

    /// <summary>False when the request had no body or its body was JSON null.</summary>
    public bool IsPresent => _fields is not null;

    /// <summary>The field of the request property named <paramref name="propertyName"/> (snake_case on the wire, any case), or null.</summary>
    public JsonElement? Field(string propertyName) =>
        _fields is not null && _fields.TryGetValue(JsonNamingPolicy.SnakeCaseLower.ConvertName(propertyName), out var value) ? value : null;

    public static async ValueTask<JsonBody> BindAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody != true)
        {
            return None;
        }
        if (!context.Request.HasJsonContentType())
        {
            throw new BadHttpRequestException("Expected a JSON request body.", StatusCodes.Status415UnsupportedMediaType);
        }
        var options = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        Dictionary<string, JsonElement>? read;
        try
        {
            read = await context.Request.ReadFromJsonAsync<Dictionary<string, JsonElement>>(options, context.RequestAborted);
        }
        catch (JsonException ex)
        {
            throw new BadHttpRequestException("The request body is not a JSON object.", StatusCodes.Status400BadRequest, ex);
        }
        catch (IOException ex) when (ex is not BadHttpRequestException)
        {
            throw new BadHttpRequestException("The request body could not be read.", StatusCodes.Status400BadRequest, ex);
        }
        if (read is null)
        {
            return None;
        }
        // Names match in any case, and a repeated name keeps its last value, as the serializer binds a record.
        var fields = new Dictionary<string, JsonElement>(read.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in read)
        {
            fields[name] = value;
        }
        return new JsonBody(fields);
    }
}
