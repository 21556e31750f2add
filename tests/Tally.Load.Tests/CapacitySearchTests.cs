using Tally.Load.Capacity;

namespace Tally.Load.Tests;

public sealed class CapacitySearchTests
{
    private static CapacityStep Step(int index, double load, bool pass) =>
        new(index, load, load, 1, 2, 3, 4, 1, 0, 0, pass, pass ? "" : "limit");

    /// <summary>A system whose true limit is <paramref name="limit"/>, and which fails some steps below it once by noise.</summary>
    private static Func<int, double, Task<CapacityStep>> System(double limit, ISet<double> noisyOnce)
    {
        var noisy = new HashSet<double>(noisyOnce);
        return (index, load) =>
        {
            var pass = load <= limit && !noisy.Remove(load);
            return Task.FromResult(Step(index, load, pass));
        };
    }

    [Fact]
    public async Task Search_ConvergesOnTheLimit_WithinPrecision()
    {
        var result = await CapacitySearch.SearchAsync("rate", System(320, new HashSet<double>()), 100, 2, 100_000, 0.05, 30, integral: false, 1, CancellationToken.None);

        Assert.InRange(result.MaxSustainableRps, 320 * 0.95, 320);
        Assert.False(result.FirstFail!.Pass);
        Assert.True(result.FirstFail.Target > 320);
    }

    [Fact]
    public async Task Search_OneNoisyFailureBelowTheLimit_IsRemeasuredAndDoesNotEndTheSearch()
    {
        var result = await CapacitySearch.SearchAsync("rate", System(320, new HashSet<double> { 200 }), 100, 2, 100_000, 0.05, 30, integral: false, 1, CancellationToken.None);

        Assert.InRange(result.MaxSustainableRps, 320 * 0.95, 320);
        Assert.Equal(2, result.Steps.Count(s => s.Target == 200));
    }

    [Fact]
    public async Task Search_ARealOverload_FailsTwiceAndIsKeptAsTheFirstFailure()
    {
        var result = await CapacitySearch.SearchAsync("rate", System(150, new HashSet<double>()), 100, 2, 100_000, 0.05, 30, integral: false, 1, CancellationToken.None);

        Assert.Equal(2, result.Steps.Count(s => s.Target == 200 && !s.Pass));
        Assert.InRange(result.MaxSustainableRps, 150 * 0.95, 150);
    }
}
