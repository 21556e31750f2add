using Tally.Testing.Suites;

namespace Tally.Distributed.Tests.Infrastructure;

/// <summary>The WebSocket suite asserts a time bound: it runs alone, after the parallel classes.</summary>
[CollectionDefinition(SuiteCollections.TimingSensitive, DisableParallelization = true)]
public sealed class TimingSensitiveCollection;
