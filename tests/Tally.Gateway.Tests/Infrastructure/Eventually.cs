namespace Tally.Gateway.Tests.Infrastructure;

internal static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> every 100 ms until it holds; fails at <paramref name="limit"/>.</summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan limit, string because)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            Assert.True(clock.Elapsed < limit, $"Timed out after {limit}: {because}");
            await Task.Delay(100);
        }
    }

    public static Task HoldsAsync(Func<bool> condition, TimeSpan limit, string because) =>
        HoldsAsync(() => Task.FromResult(condition()), limit, because);
}
