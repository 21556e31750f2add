namespace Tally.Testing;

/// <summary>
/// One private set of real servers (<see cref="PrivateServices"/>) for the whole test run of the distributed
/// suites, started at first use; its watchdog stops it once the test process has exited, after the worker
/// processes are killed.
/// </summary>
public static class DistributedServices
{
    private static readonly Lazy<PrivateServices> s_services = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Folder => s_services.Value.Folder;

    public static IReadOnlyDictionary<string, string> Env => s_services.Value.Env;

    /// <summary>A new, empty database on the private server; Tally migrates it at start-up.</summary>
    public static string CreateDatabase(string name) => s_services.Value.CreateDatabaseAsync(name, maxPoolSize: 40).GetAwaiter().GetResult();

    /// <summary>Stopped when the test process exits, before the servers, if nothing disposed it earlier.</summary>
    public static T Own<T>(T process)
        where T : IDisposable => s_services.Value.Own(process);

    private static PrivateServices Start()
    {
        var services = new RunServices();
        services.InitializeAsync().GetAwaiter().GetResult();
        return services;
    }

    // Each test class has its own database, api and worker; their pools together need room.
    private sealed class RunServices() : PrivateServices("tally-dist-tests", ("TALLY_PG_MAX_CONNECTIONS", "600"));
}
