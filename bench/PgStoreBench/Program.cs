using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Tally.Domain;
using Tally.Server.Cache;
using Tally.Server.Observability;
using Tally.Server.Options;
using Tally.Server.Storage;

// usage: PgStoreBench <connection string> [clients=64] [seconds=10] [accounts=1000]
var connectionString = args[0];
var clients = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 64;
var seconds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10;
var accounts = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1000;

var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = connectionString }).Build();
// The store as Tally builds it (the storage module with the in-memory cache), without the HTTP host and the bus.
var services = new ServiceCollection()
    .AddSingleton<IConfiguration>(configuration)
    .AddLogging()
    .AddMetrics()
    .AddSingleton(TimeProvider.System)
    .AddSingleton<TallyMetrics>();
services.AddOptions<StorageOptions>();
StorageModule.Add(services, StorageProvider.Postgres);
CacheModule.Add(services, CacheProvider.InMemory);
await using var provider = services.BuildServiceProvider();
provider.GetRequiredService<IDatabaseMigrator>().Migrate();
var store = provider.GetRequiredService<ILedgerStore>();

var users = new List<Recipient>();
var registrations = await Task.WhenAll(Enumerable.Range(0, accounts).Select(i =>
    store.RegisterAsync("9" + i.ToString("D10", CultureInfo.InvariantCulture), $"bench{i}", "x", DateTimeOffset.UtcNow)));
foreach (var r in registrations)
{
    users.Add(new Recipient(r.Value!.Id, r.Value.Username, r.Value.AccountNumber));
}
Console.WriteLine($"{users.Count} accounts registered");

async Task<(long Ok, long Rejected)> RunAsync(TimeSpan duration, int seed)
{
    long ok = 0, rejected = 0;
    var stop = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
    {
        var random = new Random(seed * 1000 + c);
        while (stop.Elapsed < duration)
        {
            var from = users[random.Next(users.Count)];
            var to = users[random.Next(users.Count)];
            if (from.Id == to.Id)
            {
                continue;
            }
            var now = DateTimeOffset.UtcNow;
            var outcome = await store.TransferAsync(new NewTransfer(from.Id, to, from.Username, random.Next(1, 100), null, null, true, "h", now, now.AddMinutes(5)));
            if (outcome.IsSuccess)
            {
                Interlocked.Increment(ref ok);
            }
            else
            {
                Interlocked.Increment(ref rejected);
            }
        }
    })));
    return (ok, rejected);
}

await RunAsync(TimeSpan.FromSeconds(2), 1);
var watch = Stopwatch.StartNew();
var (done, refused) = await RunAsync(TimeSpan.FromSeconds(seconds), 2);
var rate = (done + refused) / watch.Elapsed.TotalSeconds;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"store: {clients} clients, {seconds} s: {done} transfers ok, {refused} rejected, {rate:F0} transfers/s"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RATE={rate:F0}"));
