using System.Reflection;
using Tally.Server.Storage;

namespace Tally.Server.Tests.Storage;

public sealed class UserDirectoryTests
{
    private static readonly Recipient s_bob = new(7, "Bob", "123456789012");

    [Fact]
    public async Task AFoundAccountNumber_IsReadFromTheDatabaseOnce()
    {
        var (reader, calls) = CountingReader.Create(byNumber: _ => s_bob);
        using var directory = new UserDirectory(reader);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(s_bob, await directory.FindByAccountNumberAsync(s_bob.AccountNumber));
        }

        Assert.Equal(1, calls.Count(nameof(ILedgerReader.FindByAccountNumberAsync)));
    }

    [Fact]
    public async Task AnAccountNumberThatNamesNobody_IsAskedAgain_SoThatALaterRegistrationIsFound()
    {
        Recipient? registered = null;
        var (reader, calls) = CountingReader.Create(byNumber: _ => registered);
        using var directory = new UserDirectory(reader);

        Assert.Null(await directory.FindByAccountNumberAsync(s_bob.AccountNumber));
        registered = s_bob;
        Assert.Equal(s_bob, await directory.FindByAccountNumberAsync(s_bob.AccountNumber));

        Assert.Equal(2, calls.Count(nameof(ILedgerReader.FindByAccountNumberAsync)));
    }

    [Fact]
    public async Task AUserFoundByAccountNumber_IsKnownByIdToo()
    {
        var (reader, calls) = CountingReader.Create(byNumber: _ => s_bob);
        using var directory = new UserDirectory(reader);

        await directory.FindByAccountNumberAsync(s_bob.AccountNumber);

        Assert.Equal(s_bob, await directory.GetAsync(s_bob.Id));
        Assert.Equal(0, calls.Count(nameof(ILedgerReader.GetUserAsync)));
    }

    [Fact]
    public async Task AUserId_IsReadOnce_AndAnUnknownIdEveryTime()
    {
        var (reader, calls) = CountingReader.Create(byId: id => id == s_bob.Id ? new UserView(s_bob.Id, "5550001111", s_bob.Username, s_bob.AccountNumber, 100) : null);
        using var directory = new UserDirectory(reader);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(s_bob, await directory.GetAsync(s_bob.Id));
            Assert.Null(await directory.GetAsync(99));
        }

        Assert.Equal(4, calls.Count(nameof(ILedgerReader.GetUserAsync)));
    }

    /// <summary>An <see cref="ILedgerReader"/> that answers the two lookups the directory makes, and counts them.</summary>
    public class CountingReader : DispatchProxy
    {
        private readonly Dictionary<string, int> _calls = [];
        private Func<string, Recipient?> _byNumber = _ => null;
        private Func<long, UserView?> _byId = _ => null;

        public static (ILedgerReader Reader, CountingReader Calls) Create(Func<string, Recipient?>? byNumber = null, Func<long, UserView?>? byId = null)
        {
            var reader = Create<ILedgerReader, CountingReader>();
            var calls = (CountingReader)(object)reader;
            calls._byNumber = byNumber ?? calls._byNumber;
            calls._byId = byId ?? calls._byId;
            return (reader, calls);
        }

        public int Count(string method) => _calls.GetValueOrDefault(method);

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            var name = targetMethod!.Name;
            _calls[name] = Count(name) + 1;
            return name switch
            {
                nameof(ILedgerReader.FindByAccountNumberAsync) => Task.FromResult(_byNumber((string)args![0]!)),
                nameof(ILedgerReader.GetUserAsync) => Task.FromResult(_byId((long)args![0]!)),
                _ => throw new NotSupportedException(name),
            };
        }
    }
}
