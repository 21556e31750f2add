using Tally.Server.Admission;

namespace Tally.Server.Tests.Admission;

public sealed class DeadlineTests
{
    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("250", 250)]
    [InlineData("2s", 2000)]
    [InlineData("1.5s", 1500)]
    [InlineData(" 40MS ", 40)]
    [InlineData("0", 0)]
    public void RequestTimeout_InItsForms_IsRead(string value, double milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Deadline.ParseTimeout(value));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("-5")]
    [InlineData("soon")]
    [InlineData("1e9")]
    [InlineData("99999999999999999999999999999999999")]
    [InlineData("100000000s")]
    [InlineData("1,5s")]
    public void RequestTimeout_Nonsense_IsIgnored(string? value) => Assert.Null(Deadline.ParseTimeout(value));

    [Fact]
    public async Task Within_TakesTheEarlierOfTheCurrentDeadlineAndTheCap()
    {
        var now = DateTimeOffset.UnixEpoch;
        await Task.Run(() =>
        {
            Assert.Equal(now + TimeSpan.FromSeconds(10), Deadline.Within(now, TimeSpan.FromSeconds(10)));
            Deadline.Current = now + TimeSpan.FromSeconds(1);
            Assert.Equal(now + TimeSpan.FromSeconds(1), Deadline.Within(now, TimeSpan.FromSeconds(10)));
            Assert.Equal(now + TimeSpan.FromMilliseconds(500), Deadline.Within(now, TimeSpan.FromMilliseconds(500)));
        });
        Assert.Null(Deadline.Current);
    }
}
