namespace Tally.Domain.Tests;

public class LedgerTextTests
{
    [Fact]
    public void NotificationMessages_NameTheAmountAndTheOtherParty()
    {
        Assert.Equal("You received 5000 from Alice", NotificationText.ReceivedMessage(5000, "Alice"));
        Assert.Equal("You sent 1000000000000 to Bob", NotificationText.SentMessage(1_000_000_000_000, "Bob"));
    }

    [Fact]
    public void NotificationMessages_KeepFormatCharactersOfANameAsTheyAre() =>
        Assert.Equal("You received 1 from {0} 100% %s", NotificationText.ReceivedMessage(1, "{0} 100% %s"));

    [Theory]
    [InlineData(TransferStatus.Pending, true, "The transfer is expired and can no longer be confirmed.")]
    [InlineData(TransferStatus.Success, false, "The transfer is success and can no longer be cancelled.")]
    [InlineData(TransferStatus.Cancelled, true, "The transfer is cancelled and can no longer be confirmed.")]
    [InlineData(TransferStatus.Expired, false, "The transfer is expired and can no longer be cancelled.")]
    public void InvalidState_SaysWhatTheTransferIsAndWhatCanNoLongerHappen(string status, bool confirm, string detail)
    {
        var error = LedgerErrors.InvalidState(status, confirm);

        Assert.Equal(ErrorCodes.InvalidState, error.Code);
        Assert.Equal(409, error.Status);
        Assert.Equal(detail, error.Detail);
    }

    [Fact]
    public void FromCode_GivesTheSameErrorAsTheRuleItNames()
    {
        Assert.Same(LedgerErrors.PhoneExists, LedgerErrors.FromCode(ErrorCodes.PhoneExists, null, confirm: false));
        Assert.Same(LedgerErrors.InsufficientFunds, LedgerErrors.FromCode(ErrorCodes.InsufficientFunds, null, confirm: false));
        Assert.Same(LedgerErrors.DuplicateClientRef, LedgerErrors.FromCode(ErrorCodes.DuplicateClientRef, null, confirm: false));
        Assert.Same(LedgerErrors.TransferNotFound, LedgerErrors.FromCode(ErrorCodes.TransferNotFound, null, confirm: true));
        Assert.Same(LedgerErrors.NotOwner, LedgerErrors.FromCode(ErrorCodes.NotOwner, null, confirm: true));
        Assert.Equal(LedgerErrors.InvalidState(TransferStatus.Cancelled, true), LedgerErrors.FromCode(ErrorCodes.InvalidState, TransferStatus.Cancelled, confirm: true));
        Assert.Equal(400, LedgerErrors.InsufficientFunds.Status);
        Assert.Equal(403, LedgerErrors.NotOwner.Status);
        Assert.Equal(404, LedgerErrors.TransferNotFound.Status);
        Assert.Equal(409, LedgerErrors.DuplicateClientRef.Status);
    }

    [Fact]
    public void FromCode_RefusesACodeNoRuleHas() =>
        Assert.Throws<InvalidOperationException>(() => LedgerErrors.FromCode("NO_SUCH_CODE", null, confirm: false));
}
