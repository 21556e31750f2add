using System.Diagnostics;

namespace Tally.Load.Stress;

/// <summary>
/// One user of the API who sends one request at a time, on a connection of its own, with a short
/// think time between them, through every phase of a stress run: what a person using the system
/// sees while the generator overloads it. Each of its requests should either succeed within the
/// SLO or be refused at once; the recorder keeps its answers apart from the generator's.
/// </summary>
public static class SingleUserProbe
{
    public static async Task RunAsync(IScenario scenario, HttpClient client, TimeSpan think, StressRecorder recorder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(recorder);
        var user = new VuContext(client, -1, new Random(977));
        try
        {
            await recorder.WhenStarted.WaitAsync(cancellationToken).ConfigureAwait(false);
            while (!cancellationToken.IsCancellationRequested)
            {
                var origin = Stopwatch.GetTimestamp();
                Outcome outcome;
                try
                {
                    outcome = await scenario.ExecuteAsync(user, cancellationToken).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // a scenario bug counts as an error of the probe, as it does in the engine
                catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
                {
                    outcome = Outcome.Failed(0, 0, $"exception {e.GetType().Name}");
                }
                recorder.ProbeCompleted(origin, Stopwatch.GetTimestamp(), outcome);
                await Task.Delay(think, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The run is over; a request still in flight belongs to no phase.
        }
    }
}
