using System.ComponentModel.DataAnnotations;

namespace Tally.Server.Admission;

/// <summary>
/// Admission control (<c>Admission:*</c>): the request budget, and one adaptive concurrency limit per bulkhead.
/// Defaults are sized to the SLO (p95 &lt; 300 ms): a request is given 1 s at most, and each limit aims for
/// latency near its measured minimum, far below the SLO, so that what is admitted is answered in time.
/// </summary>
public sealed class AdmissionOptions : IValidatableObject
{
    public const string Section = "Admission";

    /// <summary>Off: nothing is refused and no deadline is imposed beyond <c>Bus:Deadline</c>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Each request's budget from the moment it reaches the instance; a client's <c>Request-Timeout</c> header
    /// can shorten it, never lengthen it. A write still queued at the end of it is dropped and answered 504.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan RequestBudget { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Warm the hot paths (database, hashing, a few loopback requests) before /ready says 200.</summary>
    public bool WarmUp { get; set; } = true;

    /// <summary>
    /// Refuse every new request while work has waited longer than this in the thread pool's queue for a whole
    /// <see cref="ThreadPoolDelay.Window"/> (a standing queue: the CPU can't keep up with what arrives). Zero
    /// turns it off. Each request passes through that queue several times, so this is a few times smaller
    /// than what it may add to a request.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan MaxQueueDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>The <c>Retry-After</c> of a refused request.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Logins and tokens: CPU-bound password hashing.</summary>
    public BulkheadOptions Login { get; set; } = new() { InitialLimit = 32, MinLimit = 4, MaxLimit = 256, LatencyCeiling = TimeSpan.FromMilliseconds(250) };

    /// <summary>Writes: registration, transfers, confirm, cancel, logout, marking notifications read (the bus).</summary>
    public BulkheadOptions Write { get; set; } = new() { InitialLimit = 128, MinLimit = 64, MaxLimit = 1024 };

    /// <summary>Reads: everything else (balance, history, lookups, the web app, the docs).</summary>
    public BulkheadOptions Read { get; set; } = new() { InitialLimit = 128, MinLimit = 64, MaxLimit = 1024 };

    public BulkheadOptions For(Bulkhead bulkhead) => bulkhead switch
    {
        Bulkhead.Login => Login,
        Bulkhead.Write => Write,
        _ => Read,
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var bulkhead in Enum.GetValues<Bulkhead>())
        {
            var options = For(bulkhead);
            var results = new List<ValidationResult>();
            Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
            foreach (var result in results)
            {
                yield return new ValidationResult($"{Section}:{bulkhead}: {result.ErrorMessage}", result.MemberNames.Select(m => $"{bulkhead}.{m}"));
            }
            if (options.MinLimit > options.MaxLimit || options.InitialLimit < options.MinLimit || options.InitialLimit > options.MaxLimit)
            {
                yield return new ValidationResult($"{Section}:{bulkhead}: MinLimit <= InitialLimit <= MaxLimit must hold.", [$"{bulkhead}.{nameof(BulkheadOptions.InitialLimit)}"]);
            }
        }
    }
}

/// <summary>One bulkhead's limit: where it starts, its bounds, its short queue, and the latency it aims for.</summary>
public sealed class BulkheadOptions
{
    [Range(1, 100_000)]
    public int InitialLimit { get; set; } = 128;

    /// <summary>
    /// The limit never falls below this, however slow the requests are. Reads and writes keep 64: on two cores
    /// that is already near the concurrency that saturates them (64 requests at 6,000/s wait about 10 ms), so a
    /// lower floor would refuse a burst of ordinary clients on a busy but healthy instance.
    /// </summary>
    [Range(1, 100_000)]
    public int MinLimit { get; set; } = 64;

    [Range(1, 100_000)]
    public int MaxLimit { get; set; } = 1024;

    /// <summary>Requests that may wait for a slot when the limit is reached; past it, refused at once.</summary>
    [Range(0, 100_000)]
    public int QueueLimit { get; set; } = 256;

    /// <summary>Longest wait for a slot: a queue bounded in time, so waiting never costs the SLO.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Latency may rise to this multiple of its recent minimum before the limit shrinks.</summary>
    [Range(1.1, 100.0)]
    public double Tolerance { get; set; } = 2.0;

    /// <summary>...or by this much over the minimum, whichever is larger (tiny minimums are noisy).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan Headroom { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>The latency aimed for never exceeds this, whatever the minimum drifted to.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan LatencyCeiling { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often the limit is recomputed from the requests completed since the last time.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Completed requests a window needs before it counts (a quiet window waits for more).</summary>
    [Range(1, 100_000)]
    public int MinSamples { get; set; } = 10;

    /// <summary>How far back the minimum latency is remembered: the baseline re-forms from recent traffic.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan BaselineWindow { get; set; } = TimeSpan.FromSeconds(30);
}
