using Tally.Domain;

namespace Tally.Domain.Tests;

public class PhoneTests
{
    [Theory]
    [InlineData("12345678", true)]
    [InlineData("123456789012345", true)]
    [InlineData("1234567", false)]
    [InlineData("1234567890123456", false)]
    [InlineData("1234567a", false)]
    [InlineData("+1234567890", false)]
    [InlineData("１２３４５６７８", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Phone_IsValid_OnlyForEightToFifteenAsciiDigits(string? phone, bool expected) =>
        Assert.Equal(expected, Phone.IsValid(phone));

    [Theory]
    [InlineData("5551234567", "55******67")]
    [InlineData("12345678", "12****78")]
    public void Phone_Mask_KeepsFirstTwoAndLastTwoDigits(string phone, string masked) =>
        Assert.Equal(masked, Phone.Mask(phone));
}

public class UsernameTests
{
    [Theory]
    [InlineData("  Alice  ", "Alice")]
    [InlineData("Zoë 🙂", "Zoë 🙂")]
    [InlineData("   ", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    [InlineData("bad\u0000name", null)]
    public void Username_Normalize_TrimsAndRejectsEmptyOrControl(string? input, string? expected) =>
        Assert.Equal(expected, Username.Normalize(input));

    [Fact]
    public void Username_Normalize_RejectsMoreThanFiftyCharacters()
    {
        Assert.Equal(new string('a', 50), Username.Normalize(new string('a', 50)));
        Assert.Null(Username.Normalize(new string('a', 51)));
    }
}

public class PasswordTests
{
    [Theory]
    [InlineData(7, false)]
    [InlineData(8, true)]
    [InlineData(128, true)]
    [InlineData(129, false)]
    public void Password_IsAcceptable_FromEightToOneHundredTwentyEightCharacters(int length, bool expected) =>
        Assert.Equal(expected, Password.IsAcceptable(new string('x', length)));
}

public class AccountNumberTests
{
    [Fact]
    public void AccountNumber_NewRandom_IsTwelveDigitsAndNeverTheBanks()
    {
        var seen = new HashSet<string>();
        for (var i = 0; i < 10_000; i++)
        {
            var number = AccountNumber.NewRandom();
            Assert.True(AccountNumber.IsValid(number), number);
            Assert.NotEqual(AccountNumber.Bank, number);
            seen.Add(number);
        }
        Assert.True(seen.Count > 9_990, "account numbers should practically never repeat");
    }

    [Theory]
    [InlineData("012345678901", true)]
    [InlineData("12345678901", false)]
    [InlineData("1234567890123", false)]
    [InlineData("12345678901a", false)]
    [InlineData("' OR 1=1 --", false)]
    public void AccountNumber_IsValid_OnlyForTwelveDigits(string value, bool expected) =>
        Assert.Equal(expected, AccountNumber.IsValid(value));
}

public class MoneyTests
{
    [Theory]
    [InlineData(0, false)]
    [InlineData(-1, false)]
    [InlineData(1, true)]
    [InlineData(Money.DefaultMaxAmount, true)]
    [InlineData(Money.DefaultMaxAmount + 1, false)]
    [InlineData(long.MaxValue, false)]
    [InlineData(long.MinValue, false)]
    public void Money_IsValidAmount_FromOneToTheMaximum(long amount, bool expected) =>
        Assert.Equal(expected, Money.IsValidAmount(amount, Money.DefaultMaxAmount));
}

public class TransferTextTests
{
    [Fact]
    public void Note_IsValid_UpToOneHundredFortyCharacters()
    {
        Assert.True(TransferText.IsValidNote(null));
        Assert.True(TransferText.IsValidNote(new string('n', 140)));
        Assert.False(TransferText.IsValidNote(new string('n', 141)));
        Assert.False(TransferText.IsValidNote("bell\a"));
    }

    [Fact]
    public void ClientRef_IsValid_FromOneToSixtyFourCharacters()
    {
        Assert.True(TransferText.IsValidClientRef(null));
        Assert.False(TransferText.IsValidClientRef(""));
        Assert.True(TransferText.IsValidClientRef(new string('k', 64)));
        Assert.False(TransferText.IsValidClientRef(new string('k', 65)));
    }
}

public class PagingTests
{
    [Theory]
    [InlineData(null, null, 1, 20)]
    [InlineData("3", "100", 3, 100)]
    [InlineData("", "", 1, 20)]
    public void Paging_Parse_AcceptsDefaultsAndRange(string? page, string? size, int expectedPage, int expectedSize) =>
        Assert.Equal((expectedPage, expectedSize), Paging.Parse(page, size));

    [Theory]
    [InlineData("0", null)]
    [InlineData("-1", null)]
    [InlineData("abc", null)]
    [InlineData("1.5", null)]
    [InlineData(null, "0")]
    [InlineData(null, "101")]
    [InlineData("99999999999999999999", null)]
    public void Paging_Parse_RejectsOutOfRange(string? page, string? size) =>
        Assert.Null(Paging.Parse(page, size));

    [Theory]
    [InlineData(0, 20, 0)]
    [InlineData(1, 20, 1)]
    [InlineData(40, 20, 2)]
    [InlineData(41, 20, 3)]
    public void Paging_Pages_RoundsUp(long total, int size, int expected) =>
        Assert.Equal(expected, Paging.Pages(total, size));
}
