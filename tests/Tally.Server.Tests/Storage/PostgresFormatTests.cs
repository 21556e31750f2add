using Tally.Domain;
using Tally.Server.Storage.Postgres;

namespace Tally.Server.Tests.Storage;

/// <summary>The notification formats as PostgreSQL's format() receives them from C#.</summary>
public sealed class PostgresFormatTests
{
    [Fact]
    public void NotificationFormats_BecomePositionalFormatStrings()
    {
        Assert.Equal("You received %1$s from %2$s", PostgresLedgerStore.ToPgFormat(NotificationText.ReceivedFormat));
        Assert.Equal("You sent %1$s to %2$s", PostgresLedgerStore.ToPgFormat(NotificationText.SentFormat));
    }

    [Theory]
    [InlineData("{1} paid {0}", "%2$s paid %1$s")]
    [InlineData("100% of {0}", "100%% of %1$s")]
    [InlineData("no items", "no items")]
    public void APercentSignIsEscaped_AndItemsKeepTheirPositions(string composite, string expected) =>
        Assert.Equal(expected, PostgresLedgerStore.ToPgFormat(composite));
}
