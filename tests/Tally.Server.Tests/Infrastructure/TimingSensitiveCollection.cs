using Tally.Testing.Suites;

namespace Tally.Server.Tests.Infrastructure;

/// <summary>Tests that assert a time bound run in this collection, alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitiveCollection
{
    public const string Name = SuiteCollections.TimingSensitive;
}
