using Tally.Load.Engine;
using Tally.Load.Scenarios;
using Tally.Load.Stress;

namespace Tally.Load.Tests;

/// <summary>The stress bookkeeping on synthetic requests with exact timestamps: no server, no timing.</summary>
public sealed class StressRecorderTests
{
    private static readonly SloRule P95Under300 = new("p95<300ms", "p95", "<", 300);
    private static readonly SloRule ErrorsUnder1 = new("errors<1%", "errors", "<", 1);

    /// <summary>Phases 0.5×, 2×, 0.5× of 100 req/s, 3 s each, and a recorder whose run started 10 s ago (so all 9 s are measured).</summary>
    private static (StressRecorder Recorder, long Start) Recorder()
    {
        var multipliers = new[] { 0.5, 2, 0.5 };
        var roles = PhaseRoles.Assign(multipliers);
        var plan = multipliers.Select((m, i) => new PhasePlan(i, roles[i], m, m * 100, i * 3, 3)).ToList();
        var recorder = new StressRecorder(plan, P95Under300, ErrorsUnder1);
        var start = Stopwatch.GetTimestamp() - 10 * Stopwatch.Frequency;
        recorder.Started(start);
        return (recorder, start);
    }

    private static long At(long start, double seconds) => start + (long)(seconds * Stopwatch.Frequency);

    private static void Send(StressRecorder r, long start, double t, double latencyMs, Outcome outcome, int count = 1)
    {
        for (var i = 0; i < count; i++)
        {
            r.Completed(At(start, t), At(start, t + latencyMs / 1000), outcome);
        }
    }

    private static readonly Outcome Ok = Outcome.Success(0, 200);
    private static readonly Outcome Overloaded = Outcome.Failed(0, 503, "503 OVERLOADED") with { RetryAfter = true };

    [Fact]
    public void Roles_BaseFirst_OverloadAboveOne_RecoveryLastAfterAnOverload()
    {
        Assert.Equal(["base", "overload", "overload", "overload", "recovery"], PhaseRoles.Assign([0.5, 2, 3, 5, 0.5]));
        Assert.Equal(["base", "load"], PhaseRoles.Assign([0.5, 0.8]));
        Assert.Equal(["base", "overload"], PhaseRoles.Assign([0.5, 2]));
    }

    [Fact]
    public void Completed_SortsIntoAcceptedRefusedAndErrors_ByPhaseOfTheSendTime()
    {
        var (r, start) = Recorder();
        Send(r, start, 0.5, 20, Ok, 10);
        Send(r, start, 3.2, 20, Ok, 30);
        Send(r, start, 3.2, 400, Ok, 5);
        Send(r, start, 3.5, 2, Overloaded, 20);
        // A 503 without Retry-After is a failure, not load shedding.
        Send(r, start, 4.5, 2, Outcome.Failed(0, 503, "503 INTERNAL_ERROR"), 2);
        // The gateway's NO_HEALTHY_UPSTREAM carries Retry-After, yet it is ill health: an error, counted apart.
        Send(r, start, 4.5, 2, Outcome.Failed(0, 503, "503 NO_HEALTHY_UPSTREAM") with { RetryAfter = true }, 3);
        Send(r, start, 4.5, 10_000, Outcome.Failed(0, 0, "timeout"), 1);
        // Sent at 2.9 s, completed in the next phase: it belongs to the phase it was sent in.
        Send(r, start, 2.9, 500, Ok, 1);
        r.Dropped(At(start, 5), 4);
        r.Stopped();

        var phases = r.Build(100, []);

        Assert.Equal(11, phases[0].Sent);
        Assert.Equal(10, phases[0].Good);
        var overload = phases[1];
        Assert.Equal(61, overload.Sent);
        Assert.Equal(35, overload.Accepted);
        Assert.Equal(30, overload.Good);
        Assert.Equal(20, overload.Refused);
        Assert.Equal(20, overload.RefusedByKind["503 OVERLOADED"]);
        Assert.Equal(6, overload.Errors);
        Assert.Equal(3, overload.NoHealthyUpstream);
        Assert.Equal(2, overload.ErrorsByKind["503 INTERNAL_ERROR"]);
        Assert.Equal(1, overload.ErrorsByKind["timeout"]);
        Assert.Equal(4, overload.Dropped);
        Assert.Equal(10.0, overload.GoodputRps);
        Assert.Equal(0.1, overload.GoodputFraction);
        Assert.InRange(overload.RefusedLatency.P99, 1.9, 2.1);
        Assert.InRange(overload.AcceptedLatency.P99, 399, 401);
        Assert.Equal(3, overload.Seconds.Count);
        Assert.Equal(55, overload.Seconds[0].Sent);
        Assert.Equal(6, overload.Seconds[1].Sent);
    }

    [Fact]
    public void Recovery_IsTheFirstSecondAfterWhichEverySecondIsHealthy()
    {
        var (r, start) = Recorder();
        Send(r, start, 6.1, 900, Ok, 20);
        Send(r, start, 7.1, 30, Ok, 20);
        // One slow second in between: recovered only after it.
        Send(r, start, 7.2, 500, Ok, 5);
        Send(r, start, 8.1, 30, Ok, 20);
        r.Stopped();

        var recovery = r.Build(100, [])[2];

        Assert.Equal([false, false, true], recovery.Seconds.Select(s => s.Healthy));
        Assert.Equal(2, recovery.RecoverySeconds);
    }

    /// <summary>Requests of the recovery phase: <paramref name="Count"/> sent at second <paramref name="At"/>, each answered after <paramref name="LatencyMs"/>.</summary>
    public sealed record Burst(double At, double LatencyMs, int Count, bool Refused = false);

    public static TheoryData<string, Burst[], int?> UnhealthySeconds => new()
    {
        { "a second with refusals above the error budget", [new(6.1, 30, 50), new(6.2, 1, 5, Refused: true), new(7.1, 30, 50), new(8.1, 30, 50)], 1 },
        { "still slow at the end", [new(6.1, 30, 20), new(8.5, 2000, 20)], null },
    };

    [Theory]
    [MemberData(nameof(UnhealthySeconds))]
    public void Recovery_ComesOnlyAfterTheLastUnhealthySecond(string timeline, Burst[] bursts, int? recovery)
    {
        var (r, start) = Recorder();
        foreach (var burst in bursts)
        {
            Send(r, start, burst.At, burst.LatencyMs, burst.Refused ? Overloaded : Ok, burst.Count);
        }
        r.Stopped();

        var actual = r.Build(100, [])[2].RecoverySeconds;
        Assert.True(recovery == actual, $"{timeline}: recovery after {actual?.ToString(CultureInfo.InvariantCulture) ?? "none"}, expected {recovery?.ToString(CultureInfo.InvariantCulture) ?? "none"}");
    }

    [Fact]
    public void Build_MemoryRatio_IsEachPhasesMaxWorkingSetOverTheBasePhases()
    {
        var (r, _) = Recorder();
        r.Stopped();
        ServerSample Ws(double t, double mb) => new(t, 10, mb, null, null, null, null, null);

        var phases = r.Build(100, [Ws(1, 100), Ws(2, 110), Ws(4, 150), Ws(5, 140), Ws(7, 120), Ws(9.5, 130)]);

        Assert.Equal(110, phases[0].WorkingSetMbMax);
        Assert.Equal(150 / 110.0, phases[1].MemoryRatio!.Value, 3);
        // The last phase keeps the second of drain after its end.
        Assert.Equal(130, phases[2].WorkingSetMbMax);
    }

    [Fact]
    public void Expectations_ParseUnits_AndJudgeTheirPhases()
    {
        var (r, start) = Recorder();
        Send(r, start, 0.5, 20, Ok, 150);
        Send(r, start, 3.5, 20, Ok, 285);
        Send(r, start, 3.5, 5, Overloaded, 300);
        for (var s = 6; s < 9; s++)
        {
            Send(r, start, s + 0.5, 20, Ok, 150);
        }
        r.Stopped();
        var phases = r.Build(100, []);

        var expectations = Expectations.Parse("goodput>=90%,goodput@2>=0.99,accepted-p99<0.3s,refused-p99<20ms,recovery<5000ms,errors<1%,no-healthy-upstream<=0");
        Expectations.Validate(expectations, [0.5, 2, 0.5], PhaseRoles.Assign([0.5, 2, 0.5]));
        var verdicts = Expectations.Evaluate(expectations, phases);

        Assert.Equal(0.9, expectations[0].Limit);
        Assert.Equal(300, expectations[2].Limit);
        Assert.Equal(5, expectations[4].Limit);
        // goodput, accepted and refused are judged in the overload phase only; errors in every phase.
        Assert.Equal(1, verdicts.Single(v => v.Expression == "goodput>=90%").Phase);
        Assert.True(verdicts.Single(v => v.Expression == "goodput>=90%").Pass);
        Assert.False(verdicts.Single(v => v.Expression == "goodput@2>=0.99").Pass);
        Assert.True(verdicts.Single(v => v.Expression == "refused-p99<20ms").Pass);
        Assert.Equal(0, verdicts.Single(v => v.Expression == "recovery<5000ms").Actual);
        Assert.Equal(3, verdicts.Count(v => v.Expression == "errors<1%"));
        Assert.Null(verdicts.Single(v => v.Expression == "no-healthy-upstream<=0").Phase);
        Assert.Single(verdicts, v => !v.Pass);
    }

    [Fact]
    public void Probe_SortsTheOneAtATimeUsersAnswers_ByPhase_AndProbeMaxJudgesTheSlowestInOverload()
    {
        var (r, start) = Recorder();
        r.ProbeCompleted(At(start, 0.5), At(start, 0.52), Ok);
        r.ProbeCompleted(At(start, 3.1), At(start, 3.15), Ok);
        r.ProbeCompleted(At(start, 3.3), At(start, 3.302), Overloaded);
        // A success that kept the user waiting 2 s: the multi-second wait the probe is there to catch.
        r.ProbeCompleted(At(start, 3.5), At(start, 5.5), Ok);
        r.ProbeCompleted(At(start, 5.6), At(start, 5.7), Outcome.Failed(0, 500, "500 INTERNAL_ERROR"));
        r.Stopped();
        var phases = r.Build(100, []);

        var calm = phases[0].Probe!;
        Assert.Equal(new ProbeStats(1, 1, 0, 0, 0, 20, 20, 20), calm with { P50 = Math.Round(calm.P50), P99 = Math.Round(calm.P99), Max = Math.Round(calm.Max) });
        var overload = phases[1].Probe!;
        Assert.Equal(4, overload.Requests);
        Assert.Equal(1, overload.WithinSlo);
        Assert.Equal(1, overload.Refused);
        Assert.Equal(1, overload.Errors);
        Assert.Equal(1, overload.Slow);
        Assert.InRange(overload.Max, 1990, 2010);
        Assert.Null(phases[2].Probe);

        var expectations = Expectations.Parse("probe-max<=300ms,probe-max@2<5s");
        Expectations.Validate(expectations, [0.5, 2, 0.5], PhaseRoles.Assign([0.5, 2, 0.5]));
        var verdicts = Expectations.Evaluate(expectations, phases);
        Assert.Equal(5000, expectations[1].Limit);
        var strict = Assert.Single(verdicts, v => v.Expression == "probe-max<=300ms");
        Assert.Equal(1, strict.Phase);
        Assert.False(strict.Pass);
        Assert.True(Assert.Single(verdicts, v => v.Expression == "probe-max@2<5s").Pass);
    }

    [Theory]
    [InlineData("probe-max<=300%")]
    [InlineData("goodput")]
    [InlineData("goodput>=")]
    [InlineData("goodput=>0.9")]
    [InlineData("memory<=1.5GB")]
    [InlineData("accepted-p99<300%")]
    [InlineData("recovery@5<5s")]
    [InlineData("no-healthy-upstream<=0%")]
    public void Expectations_Malformed_AreRejected(string text)
    {
        Assert.Throws<FormatException>(() => Expectations.Parse(text));
    }
}
