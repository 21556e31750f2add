namespace Tally.Testing;

/// <summary>Two fresh users, a sender and a receiver, each with a client signed in as them.</summary>
public sealed record TallyPair(TallyUser Alice, TallyUser Bob, HttpClient AliceClient, HttpClient BobClient) : IDisposable
{
    /// <summary>The users and the sender's client, for the many tests that act only as the sender.</summary>
    public void Deconstruct(out TallyUser alice, out TallyUser bob, out HttpClient aliceClient) =>
        (alice, bob, aliceClient) = (Alice, Bob, AliceClient);

    public void Dispose()
    {
        AliceClient.Dispose();
        BobClient.Dispose();
    }
}
