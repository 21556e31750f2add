using Tally.Server.Features.Auth;
using Tally.Server.Options;

namespace Tally.Server.Tests.Admission;

public sealed class PasswordHashingTests
{
    [Fact]
    public async Task Hashes_BeyondTheHashingConcurrency_WaitForACore_AndAWaiterCanLeave()
    {
        // 5 million iterations keep the one core busy for far longer than the waiter's patience on any machine.
        using var hasher = new PasswordHasher(Microsoft.Extensions.Options.Options.Create(new AuthOptions { PasswordIterations = 5_000_000, HashingConcurrency = 1 }));
        var running = Task.Run(() => hasher.HashAsync("a long running hash", CancellationToken.None));
        var until = DateTime.UtcNow.AddSeconds(10);
        while (hasher.Running == 0 && !running.IsCompleted && DateTime.UtcNow < until)
        {
            await Task.Delay(5);
        }
        Assert.Equal(1, hasher.Running);
        using var patience = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hasher.VerifyDummyAsync("waiting for a core", patience.Token));
        Assert.False(running.IsCompleted, "the first hash should still hold the only core");
        var hash = await running;
        Assert.StartsWith("pbkdf2-sha256$5000000$", hash, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHash_VerifiesAgainstItsPassword_AndNoOther()
    {
        using var hasher = new PasswordHasher(Microsoft.Extensions.Options.Options.Create(new AuthOptions { PasswordIterations = 1000 }));
        var stored = await hasher.HashAsync("correct horse battery", CancellationToken.None);
        Assert.True(await hasher.VerifyAsync("correct horse battery", stored, CancellationToken.None));
        Assert.False(await hasher.VerifyAsync("correct horse batterz", stored, CancellationToken.None));
    }

    [Fact]
    public void HashingConcurrency_DefaultsToHalfTheCores_AtLeastOne() =>
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), new AuthOptions().HashingConcurrency);
}
