namespace Tally.Testing;

/// <summary>A registered user with a live session.</summary>
public sealed record TallyUser(long Id, string Phone, string Username, string Password, string AccountNumber, string Session)
{
    /// <summary>Makes <paramref name="client"/> send this user's session as X-Session.</summary>
    public HttpClient Authorize(HttpClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        client.DefaultRequestHeaders.Remove("X-Session");
        client.DefaultRequestHeaders.Add("X-Session", Session);
        return client;
    }
}
