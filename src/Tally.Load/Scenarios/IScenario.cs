namespace Tally.Load.Scenarios;

/// <summary>The outcome of one request: the endpoint index, HTTP status (0 when none) and error kind.</summary>
public readonly record struct Outcome(int Endpoint, int Status, bool Ok, string? ErrorKind)
{
    /// <summary>The answer carried a <c>Retry-After</c> header: with 503 or 429, the server refused the request to shed load.</summary>
    public bool RetryAfter { get; init; }

    /// <summary>A 503 or 429 with <c>Retry-After</c>: load shed on purpose, not a failure of the request's own.</summary>
    public bool Refused => !Ok && RetryAfter && Status is 503 or 429;


    public static Outcome Success(int endpoint, int status) => new(endpoint, status, true, null);
    public static Outcome Failed(int endpoint, int status, string kind) => new(endpoint, status, false, kind);
}

/// <summary>One iteration of a scenario is exactly one request, so its latency is that request's.</summary>
public interface IScenario
{
    string Name { get; }
    IReadOnlyList<string> Endpoints { get; }
    ValueTask<Outcome> ExecuteAsync(VuContext context, CancellationToken cancellationToken);
}

public sealed class VuContext(HttpClient client, int id, Random random)
{
    public HttpClient Client { get; } = client;
    public int Id { get; } = id;
    public Random Random { get; } = random;

    /// <summary>What a scenario keeps for this user between iterations (a scenario file's flow position and captures).</summary>
    public object? State { get; set; }

    /// <summary>Set by the scenario: the think time after this iteration in the closed model, instead of --think.</summary>
    public TimeSpan? ThinkAfter { get; set; }
}
