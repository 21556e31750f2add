using System.Net.WebSockets;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Tally.Server.Features.Notifications;

namespace Tally.Testing.Suites.Features;

/// <summary>
/// The push deadline is a time assertion, so these run alone (not beside the CPU-heavy classes), and each test waits
/// until the server has registered its sockets before causing a notification: each mode's class runs in the
/// collection <see cref="SuiteCollections.TimingSensitive"/>.
/// </summary>
public abstract class WebSocketTests<TApp>(TApp factory) : IClassFixture<TApp>
    where TApp : TallyTestHost, ITallyMode
{
    private static readonly TimeSpan s_pushDeadline = TimeSpan.FromSeconds(1);

    private static string UniqueName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private async Task<WebSocket> ConnectAsync(string session)
    {
        var client = factory.Server.CreateWebSocketClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await client.ConnectAsync(new Uri(factory.Server.BaseAddress, "/ws?session=" + Uri.EscapeDataString(session)), timeout.Token);
    }

    /// <summary>Waits until the server holds exactly <paramref name="expected"/> sockets (this class's app serves no one else).</summary>
    private async Task AwaitRegisteredSocketsAsync(int expected)
    {
        var hub = factory.Services.GetRequiredService<NotificationHub>();
        var settled = await TallyTestKit.PollAsync(
            () => Task.FromResult<object?>(hub.ConnectionCount == expected ? hub : null),
            TimeSpan.FromSeconds(5),
            TimeSpan.FromMilliseconds(10));
        Assert.True(settled is not null, $"The server holds {hub.ConnectionCount} sockets, expected {expected}");
    }

    /// <summary>Reads one whole text frame, failing if none arrives within <paramref name="within"/>.</summary>
    private static async Task<JsonElement> ReceiveJsonAsync(WebSocket socket, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            WebSocketReceiveResult result;
            try
            {
                result = await socket.ReceiveAsync(buffer, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"No frame arrived within {within.TotalMilliseconds} ms");
                throw;
            }
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            Assert.Equal(WebSocketMessageType.Text, result.MessageType);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                using var document = JsonDocument.Parse(message.ToArray());
                return document.RootElement.Clone();
            }
        }
    }

    private static async Task CloseAsync(WebSocket socket)
    {
        if (socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        }
        socket.Dispose();
    }

    [Fact]
    public async Task Receiver_GetsTheNotificationFrameWithinOneSecond()
    {
        var alice = await factory.RegisterAndLoginAsync(UniqueName("Alice"));
        var bob = await factory.RegisterAndLoginAsync(UniqueName("Bob"));
        var socket = await ConnectAsync(bob.Session);
        try
        {
            await AwaitRegisteredSocketsAsync(1);
            using var client = factory.CreateClient(alice);
            var transfer = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 5000 });

            var frame = await ReceiveJsonAsync(socket, s_pushDeadline);

            Assert.Equal("notification", frame.Str("type"));
            Assert.True(frame.Long("id") > 0);
            Assert.Equal($"You received 5000 from {alice.Username}", frame.Str("message"));
            Assert.Equal(transfer.Long("transfer_id"), frame.Long("transfer_id"));
            Assert.Equal(5000, frame.Long("amount"));
            Assert.False(string.IsNullOrEmpty(frame.Str("created_at")));
        }
        finally
        {
            await CloseAsync(socket);
        }
    }

    [Fact]
    public async Task EveryOpenSocketOfTheReceiver_GetsTheFrame()
    {
        var alice = await factory.RegisterAndLoginAsync();
        var bob = await factory.RegisterAndLoginAsync();
        var first = await ConnectAsync(bob.Session);
        var second = await ConnectAsync(bob.Session);
        try
        {
            await AwaitRegisteredSocketsAsync(2);
            using var client = factory.CreateClient(alice);
            var transfer = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 42 });

            var frames = await Task.WhenAll(ReceiveJsonAsync(first, s_pushDeadline), ReceiveJsonAsync(second, s_pushDeadline));

            Assert.All(frames, frame => Assert.Equal(transfer.Long("transfer_id"), frame.Long("transfer_id")));
            Assert.Equal(frames[0].Long("id"), frames[1].Long("id"));
        }
        finally
        {
            await CloseAsync(first);
            await CloseAsync(second);
        }
    }

    [Fact]
    public async Task Sender_GetsTheSentFrame()
    {
        var alice = await factory.RegisterAndLoginAsync(UniqueName("Alice"));
        var bob = await factory.RegisterAndLoginAsync(UniqueName("Bob"));
        var socket = await ConnectAsync(alice.Session);
        try
        {
            await AwaitRegisteredSocketsAsync(1);
            using var client = factory.CreateClient(alice);
            var transfer = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 9 });

            var frame = await ReceiveJsonAsync(socket, s_pushDeadline);

            Assert.Equal($"You sent 9 to {bob.Username}", frame.Str("message"));
            Assert.Equal(transfer.Long("transfer_id"), frame.Long("transfer_id"));
        }
        finally
        {
            await CloseAsync(socket);
        }
    }

    [Fact]
    public async Task Socket_OnlyGetsItsOwnUsersFrames()
    {
        var alice = await factory.RegisterAndLoginAsync();
        var bob = await factory.RegisterAndLoginAsync();
        var carol = await factory.RegisterAndLoginAsync();
        var carolSocket = await ConnectAsync(carol.Session);
        try
        {
            await AwaitRegisteredSocketsAsync(1);
            using var client = factory.CreateClient(alice);
            await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 1 });
            var toCarol = await client.TransferOkAsync(new { to_account_number = carol.AccountNumber, amount = 2 });

            var frame = await ReceiveJsonAsync(carolSocket, s_pushDeadline);

            Assert.Equal(toCarol.Long("transfer_id"), frame.Long("transfer_id"));
        }
        finally
        {
            await CloseAsync(carolSocket);
        }
    }

    [Fact]
    public async Task FramesSentByTheClient_AreIgnored()
    {
        var alice = await factory.RegisterAndLoginAsync();
        var bob = await factory.RegisterAndLoginAsync();
        var socket = await ConnectAsync(bob.Session);
        try
        {
            await AwaitRegisteredSocketsAsync(1);
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes("{\"type\":\"transfer\",\"amount\":100000}"), WebSocketMessageType.Text, true, timeout.Token);
                await socket.SendAsync(new byte[] { 0, 1, 2, 255 }, WebSocketMessageType.Binary, true, timeout.Token);
            }
            using var client = factory.CreateClient(alice);
            var transfer = await client.TransferOkAsync(new { to_account_number = bob.AccountNumber, amount = 3 });

            var frame = await ReceiveJsonAsync(socket, s_pushDeadline);

            Assert.Equal(transfer.Long("transfer_id"), frame.Long("transfer_id"));
            Assert.Equal(100003, (await factory.GetBalanceAsync(bob)).Balance);
        }
        finally
        {
            await CloseAsync(socket);
        }
    }

    [Theory]
    [InlineData("absent")]
    [InlineData("empty")]
    [InlineData("garbage")]
    [InlineData("alg-none")]
    [InlineData("revoked")]
    public async Task Upgrade_WithBadSession_IsRefusedWith401(string kind)
    {
        var user = await factory.RegisterAndLoginAsync();
        var now = DateTimeOffset.UtcNow;
        string? session = kind switch
        {
            "absent" => null,
            "empty" => "",
            "garbage" => "not-a-token",
            "alg-none" => TestTokens.Unsigned(TestTokens.Claims(user.Id, now, now.AddHours(1))),
            _ => user.Session,
        };
        if (kind == "revoked")
        {
            using var client = factory.CreateClient(user);
            Assert.Equal(System.Net.HttpStatusCode.NoContent, (await client.PostAsync("/api/auth/logout", null)).StatusCode);
        }
        var wsClient = factory.Server.CreateWebSocketClient();
        var uri = new Uri(factory.Server.BaseAddress, session is null ? "/ws" : "/ws?session=" + Uri.EscapeDataString(session));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => wsClient.ConnectAsync(uri, timeout.Token));

        Assert.Contains("401", refused.Message, StringComparison.Ordinal);
    }
}
