using System.Globalization;

namespace Tally.Domain;

public static class NotificationText
{
    public const string Received = "transfer_received";
    public const string Sent = "transfer_sent";

    public static string ReceivedMessage(long amount, string from) => string.Create(CultureInfo.InvariantCulture, $"You received {amount} from {from}");

    public static string SentMessage(long amount, string to) => string.Create(CultureInfo.InvariantCulture, $"You sent {amount} to {to}");
}
