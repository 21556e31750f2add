namespace Tally.Domain;

public static class ErrorCodes
{
    public const string InvalidPhone = "INVALID_PHONE";
    public const string InvalidUsername = "INVALID_USERNAME";
    public const string WeakPassword = "WEAK_PASSWORD";
    public const string PhoneExists = "PHONE_EXISTS";
    public const string MissingCredentials = "MISSING_CREDENTIALS";
    public const string InvalidCredentials = "INVALID_CREDENTIALS";
    public const string AmbiguousUsername = "AMBIGUOUS_USERNAME";
    public const string TooManyAttempts = "TOO_MANY_ATTEMPTS";
    public const string Unauthenticated = "UNAUTHENTICATED";
    public const string InvalidAccount = "INVALID_ACCOUNT";
    public const string AccountNotFound = "ACCOUNT_NOT_FOUND";
    public const string InvalidPage = "INVALID_PAGE";
    public const string AdminDisabled = "ADMIN_DISABLED";
    public const string AdminForbidden = "ADMIN_FORBIDDEN";
    public const string UserNotFound = "USER_NOT_FOUND";
    public const string InvalidAmount = "INVALID_AMOUNT";
    public const string MissingRecipient = "MISSING_RECIPIENT";
    public const string SelfTransfer = "SELF_TRANSFER";
    public const string InsufficientFunds = "INSUFFICIENT_FUNDS";
    public const string InvalidNote = "INVALID_NOTE";
    public const string InvalidClientRef = "INVALID_CLIENT_REF";
    public const string InvalidTransfer = "INVALID_TRANSFER";
    public const string TransferNotFound = "TRANSFER_NOT_FOUND";
    public const string NotOwner = "NOT_OWNER";
    public const string InvalidState = "INVALID_STATE";
    public const string DuplicateClientRef = "DUPLICATE_CLIENT_REF";
    public const string NotificationNotFound = "NOTIFICATION_NOT_FOUND";
    public const string InvalidRequest = "INVALID_REQUEST";
    public const string MalformedJson = "MALFORMED_JSON";
    public const string MissingBody = "MISSING_BODY";
    public const string UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";
    public const string PayloadTooLarge = "PAYLOAD_TOO_LARGE";
    public const string NotFound = "NOT_FOUND";
    public const string MethodNotAllowed = "METHOD_NOT_ALLOWED";
    public const string RateLimited = "RATE_LIMITED";
    public const string QueueFull = "QUEUE_FULL";
    public const string Overloaded = "OVERLOADED";
    public const string DeadlineExceeded = "DEADLINE_EXCEEDED";
    public const string ServiceUnavailable = "SERVICE_UNAVAILABLE";
    public const string InternalError = "INTERNAL_ERROR";

    // Only the gateway answers these; it shares RATE_LIMITED, PAYLOAD_TOO_LARGE and the like with the server.
    public const string GatewayOverloaded = "GATEWAY_OVERLOADED";
    public const string NoHealthyUpstream = "NO_HEALTHY_UPSTREAM";
    public const string UpstreamUnavailable = "UPSTREAM_UNAVAILABLE";
    public const string UpstreamTimeout = "UPSTREAM_TIMEOUT";
}
