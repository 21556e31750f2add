using System.ComponentModel.DataAnnotations;

namespace Tally.Server.Options;

public sealed class StorageOptions
{
    public const string Section = "Storage";

    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>Folder of the embedded SQLite database, relative to the working directory.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    public string FileName { get; set; } = "tally.db";

    /// <summary>SQLite synchronous mode; FULL makes every acknowledged commit durable.</summary>
    public string Synchronous { get; set; } = "FULL";

    /// <summary>Most write operations that share one commit.</summary>
    [Range(1, 10_000)]
    public int MaxBatch { get; set; } = 512;
}

public sealed class BusOptions
{
    public const string Section = "Bus";

    public BusTransport Transport { get; set; } = BusTransport.InProcess;

    /// <summary>Commands that may wait in the queue; past it a write gets 503 at once.</summary>
    [Range(1, 1_000_000)]
    public int Capacity { get; set; } = 4096;

    [Range(1, 1024)]
    public int Workers { get; set; } = 64;

    /// <summary>How long a client waits for its command; past it the client gets 504 and the command is dropped.</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(10);

    public int RetryAfterSeconds { get; set; } = 1;
}

/// <summary>What this process does: <c>Role=api</c> (HTTP, publishes writes), <c>worker</c> (runs commands), or <c>all</c>.</summary>
public sealed class RoleOptions
{
    public const string Key = "Role";

    public TallyRole Role { get; set; } = TallyRole.All;

    public bool ServesApi => Role.ServesApi();
}

/// <summary>The RabbitMQ transport (<c>Bus:Transport=RabbitMq</c>), under <c>Bus:RabbitMq</c>; the broker is <c>ConnectionStrings:RabbitMq</c>.</summary>
public sealed class RabbitMqOptions
{
    public const string Section = "Bus:RabbitMq";

    /// <summary>Queue names are <c>{prefix}.commands.{area}</c>, with <c>{prefix}.commands.dlx</c> and <c>{prefix}.commands.dead</c> for poison messages.</summary>
    [Required]
    [RegularExpression("^[a-zA-Z0-9_.-]{1,100}$")]
    public string QueuePrefix { get; set; } = "tally";

    /// <summary>Unacked messages a worker holds per queue, and the handlers it runs at once per queue.</summary>
    [Range(1, 10_000)]
    public int Prefetch { get; set; } = 64;

    /// <summary>Channels the api side publishes on (each waits for its publisher confirm) and takes replies on.</summary>
    [Range(1, 256)]
    public int PublisherChannels { get; set; } = 16;

    /// <summary>How long past the deadline the api still waits for a reply, for a command a worker took just before it.</summary>
    public TimeSpan ReplyGrace { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Deliveries of one message whose handler throws before it goes to the dead-letter queue.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>How often the queue depths are read for /metrics.</summary>
    public TimeSpan DepthPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long an inbox row is kept; a redelivery can only come while its message lives (its deadline).</summary>
    public TimeSpan InboxRetention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The dead-letter queue's bound (oldest dropped first).</summary>
    [Range(1, 10_000_000)]
    public int DeadLetterMaxLength { get; set; } = 100_000;

    /// <summary>How long start-up waits for the broker before it goes on and keeps trying in the background.</summary>
    public TimeSpan StartupWait { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The nodes of a RabbitMQ cluster, <c>host:port</c> separated by commas; empty means the host of
    /// <c>ConnectionStrings:RabbitMq</c> alone. The connection string still gives the user, password and vhost.
    /// The client connects to the first node that answers, and recovers to any of them.
    /// </summary>
    [RegularExpression(@"^\s*$|^[^\s,:]+:\d{1,5}(\s*,\s*[^\s,:]+:\d{1,5})*$")]
    public string Endpoints { get; set; } = "";

    /// <summary>
    /// The type the queues are declared with: <c>quorum</c> (replicated over a cluster's nodes; a publish is
    /// confirmed once a majority has it, so they survive the loss of a minority), <c>classic</c>, or empty (the
    /// default: no type is declared and the broker's <c>default_queue_type</c> decides, classic on a stock broker).
    /// A queue that exists with another type is not redeclared: start-up reports the queue until it is drained and
    /// deleted or the setting matches it.
    /// </summary>
    [RegularExpression("^(quorum|classic)?$")]
    public string QueueType { get; set; } = "";
}

public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>Base64 of at least 32 bytes. When empty, a key is generated and kept in the data folder.</summary>
    public string? SigningKey { get; set; }

    public string Issuer { get; set; } = "tally";

    public string Audience { get; set; } = "tally";

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(24);

    [Range(1_000, 10_000_000)]
    public int PasswordIterations { get; set; } = 100_000;

    /// <summary>Password hashes computed at once (logins and registrations); the rest wait. Half the cores by default.</summary>
    [Range(1, 1024)]
    public int HashingConcurrency { get; set; } = Math.Max(1, Environment.ProcessorCount / 2);

    [Range(1, int.MaxValue)]
    public int LoginPermitsPerIpPerMinute { get; set; } = 300;

    [Range(1, int.MaxValue)]
    public int LoginPermitsPerPhonePerMinute { get; set; } = 10;

    /// <summary>Registrations per client IP (an IPv6 client by its /64) per minute; each one mints an opening balance.</summary>
    [Range(1, int.MaxValue)]
    public int RegistrationsPerIpPerMinute { get; set; } = 20;
}

public sealed class AdminOptions
{
    public const string Section = "Admin";

    public string? Secret { get; set; }
}

public sealed class TransferOptions
{
    public const string Section = "Transfers";

    [Range(1, long.MaxValue)]
    public long MaxAmount { get; set; } = Domain.Money.DefaultMaxAmount;

    [Range(1, 31_536_000)]
    public int HoldSeconds { get; set; } = 300;

    public TimeSpan ExpirySweepInterval { get; set; } = TimeSpan.FromSeconds(1);
}

public sealed class LimitsOptions
{
    public const string Section = "Limits";

    [Range(1024, 100 * 1024 * 1024)]
    public long MaxBodyBytes { get; set; } = 64 * 1024;
}
