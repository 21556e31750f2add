namespace Tally.RabbitMq.Tests.Infrastructure;

/// <summary>Every test of this project runs in this collection, against one private set of services.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ServicesCollection : ICollectionFixture<PrivateServices>
{
    public const string Name = "RabbitMQ";
}
