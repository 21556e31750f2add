namespace Tally.Server.Storage;

/// <summary>The configured database, migrated before the first request.</summary>
public interface IDatabaseMigrator
{
    /// <summary>The provider's name, as the readiness check reports it.</summary>
    string Name { get; }

    void Migrate();
}
