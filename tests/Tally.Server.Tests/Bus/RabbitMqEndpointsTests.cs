using RabbitMQ.Client;
using Tally.Server.Bus.RabbitMq;

namespace Tally.Server.Tests.Bus;

public sealed class RabbitMqEndpointsTests
{
    private static readonly AmqpTcpEndpoint s_fallback = new("broker.example", 5672);

    [Fact]
    public void Each_node_of_the_list_becomes_an_endpoint_in_order()
    {
        var endpoints = RabbitMqConnection.ParseEndpoints("127.0.0.1:21001, 127.0.0.1:21002,host-3:21003", s_fallback);
        Assert.Equal(["127.0.0.1:21001", "127.0.0.1:21002", "host-3:21003"], endpoints.Select(e => $"{e.HostName}:{e.Port}"));
    }

    [Fact]
    public void An_empty_list_uses_the_connection_strings_host()
    {
        var endpoints = RabbitMqConnection.ParseEndpoints(" ", s_fallback);
        var only = Assert.Single(endpoints);
        Assert.Equal(("broker.example", 5672), (only.HostName, only.Port));
    }
}
