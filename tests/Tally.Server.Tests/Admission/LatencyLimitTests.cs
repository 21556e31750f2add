using Tally.Server.Admission;

namespace Tally.Server.Tests.Admission;

public sealed class LatencyLimitTests
{
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(2);

    private static LatencyLimit NewLimit(Action<BulkheadOptions>? configure = null)
    {
        var options = Options();
        configure?.Invoke(options);
        return new LatencyLimit(options, TimeSpan.Zero);
    }

    private static BulkheadOptions Options() => new()
    {
        InitialLimit = 16,
        MinLimit = 4,
        MaxLimit = 100,
        Tolerance = 2.0,
        Headroom = TimeSpan.FromMilliseconds(1),
        LatencyCeiling = TimeSpan.FromMilliseconds(100),
        Window = TimeSpan.FromMilliseconds(100),
        MinSamples = 10,
        BaselineWindow = TimeSpan.FromSeconds(30),
    };

    /// <summary>Feeds one window (MinSamples is 10) of <paramref name="samples"/> requests of <paramref name="latency"/> each, ending at <paramref name="at"/>.</summary>
    private static void Window(LatencyLimit limit, TimeSpan latency, int inFlight, ref TimeSpan at, int samples = 10)
    {
        at += TimeSpan.FromMilliseconds(100);
        for (var i = 0; i < samples; i++)
        {
            limit.Record(latency, inFlight, at);
        }
    }

    [Fact]
    public void Limit_WhileLatencyStaysNearItsMinimumAndDemandUsesIt_Grows()
    {
        var limit = NewLimit();
        var at = TimeSpan.Zero;
        var seen = new List<int> { limit.Current };
        for (var i = 0; i < 10; i++)
        {
            Window(limit, Fast, inFlight: limit.Current, ref at);
            seen.Add(limit.Current);
        }
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.Second >= p.First), string.Join(",", seen));
        Assert.True(limit.Current > 16 * 2, $"limit {limit.Current} should have grown well past 16: {string.Join(",", seen)}");
    }

    [Fact]
    public void Limit_WhenDemandStaysFarBelowIt_DoesNotGrow()
    {
        var limit = NewLimit();
        var at = TimeSpan.Zero;
        for (var i = 0; i < 20; i++)
        {
            Window(limit, Fast, inFlight: 3, ref at);
        }
        Assert.Equal(16, limit.Current);
    }

    [Fact]
    public void Limit_WhenLatencyRisesFarAboveItsMinimum_Shrinks_ButNeverBelowTheFloor()
    {
        var limit = NewLimit();
        var at = TimeSpan.Zero;
        Window(limit, Fast, inFlight: 16, ref at);
        var before = limit.Current;
        Window(limit, TimeSpan.FromMilliseconds(40), inFlight: before, ref at);
        Assert.True(limit.Current < before, $"{limit.Current} should be below {before}");
        Assert.True(limit.Current >= before / 2, $"one window shrinks at most by half: {before} -> {limit.Current}");
        for (var i = 0; i < 20; i++)
        {
            Window(limit, TimeSpan.FromMilliseconds(40), inFlight: limit.Current, ref at);
        }
        Assert.Equal(4, limit.Current);
    }

    [Fact]
    public void Limit_NeverExceedsItsCeiling()
    {
        var limit = NewLimit();
        var at = TimeSpan.Zero;
        for (var i = 0; i < 200; i++)
        {
            Window(limit, Fast, inFlight: limit.Current, ref at);
        }
        Assert.Equal(100, limit.Current);
    }

    [Fact]
    public void Latency_WithinTheTolerance_DoesNotShrinkTheLimit()
    {
        var limit = NewLimit();
        var at = TimeSpan.Zero;
        Window(limit, TimeSpan.FromMilliseconds(10), inFlight: 4, ref at);
        Window(limit, TimeSpan.FromMilliseconds(19), inFlight: 4, ref at);
        Assert.Equal(16, limit.Current);
        Assert.Equal(0.010, limit.Baseline!.Value, 6);
    }

    [Fact]
    public void Window_WithTooFewSamples_WaitsForMore()
    {
        var limit = NewLimit();
        var at = TimeSpan.Zero;
        Window(limit, TimeSpan.FromMilliseconds(5), inFlight: 16, ref at, samples: 9);
        Assert.Null(limit.Baseline);
        limit.Record(TimeSpan.FromMilliseconds(5), 16, at);
        Assert.Equal(0.005, limit.Baseline!.Value, 6);
    }

    [Fact]
    public void Baseline_ForgetsMinimaOlderThanItsWindow_SoItReformsFromRecentTraffic()
    {
        var limit = NewLimit(o => o.BaselineWindow = TimeSpan.FromSeconds(1));
        var at = TimeSpan.Zero;
        Window(limit, TimeSpan.FromMilliseconds(1), inFlight: 1, ref at);
        for (var i = 0; i < 15; i++)
        {
            Window(limit, TimeSpan.FromMilliseconds(8), inFlight: 1, ref at);
        }
        Assert.Equal(0.008, limit.Baseline!.Value, 6);
    }

    [Fact]
    public void Target_IsCappedByTheCeiling_WhateverTheBaseline()
    {
        var limit = NewLimit(o => o.LatencyCeiling = TimeSpan.FromMilliseconds(50));
        var at = TimeSpan.Zero;
        // A slow baseline (40 ms) would tolerate 80 ms; the ceiling says 50.
        Window(limit, TimeSpan.FromMilliseconds(40), inFlight: 16, ref at);
        var before = limit.Current;
        Window(limit, TimeSpan.FromMilliseconds(70), inFlight: 16, ref at);
        Assert.True(limit.Current < before, $"{limit.Current} should be below {before}");
    }
}
