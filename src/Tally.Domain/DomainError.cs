namespace Tally.Domain;

/// <summary>A business rule that a request broke: a stable code, an HTTP status and a sentence for people.</summary>
public sealed record DomainError(string Code, int Status, string Detail)
{
    public static DomainError BadRequest(string code, string detail) => new(code, 400, detail);
    public static DomainError NotFound(string code, string detail) => new(code, 404, detail);
    public static DomainError Conflict(string code, string detail) => new(code, 409, detail);
    public static DomainError Forbidden(string code, string detail) => new(code, 403, detail);
}

/// <summary>The result of a command: a value, or the rule it broke. Errors are values so they cross a queue.</summary>
public sealed record Outcome<T>
{
    public T? Value { get; init; }
    public DomainError? Error { get; init; }
    public bool Replayed { get; init; }
    public bool IsSuccess => Error is null;

    public static Outcome<T> Ok(T value, bool replayed = false) => new() { Value = value, Replayed = replayed };
    public static Outcome<T> Fail(DomainError error) => new() { Error = error };

    public static implicit operator Outcome<T>(DomainError error) => Fail(error);
}

/// <summary>Thrown inside a unit of work to roll back its savepoint and report the rule that was broken.</summary>
public sealed class DomainException(DomainError error) : Exception(error.Detail)
{
    public DomainError Error { get; } = error;
}
