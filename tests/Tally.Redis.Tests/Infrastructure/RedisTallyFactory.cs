using Microsoft.AspNetCore.Mvc.Testing;

namespace Tally.Redis.Tests.Infrastructure;

/// <summary>Tally in distributed storage mode (PostgreSQL) with Cache:Redis pointing at the sentinels.</summary>
public sealed class RedisTallyFactory(string postgres, string redis, IDictionary<string, string?> overrides) : TallyTestHost(
    "tally-redis-tests",
    AdminSecret,
    new Dictionary<string, string?>
    {
        ["Storage:Provider"] = "Postgres",
        ["ConnectionStrings:Postgres"] = postgres,
        ["Cache:Redis"] = redis,
    },
    overrides)
{
    public const string AdminSecret = "redis-admin-secret";
}

/// <summary>What only the Redis tests need beyond <see cref="TallyTestKit"/>.</summary>
public static class Kit
{
    public static async Task<long> MeBalanceAsync(this TallyTestHost factory, TallyUser user)
    {
        using var client = factory.CreateClient(user.Session);
        return (await (await client.GetAsync("/api/account/me")).AssertJsonAsync()).GetProperty("balance").GetInt64();
    }

    public static async Task<JsonElement> TransferAsync(this TallyTestHost factory, TallyUser from, TallyUser to, long amount)
    {
        using var client = factory.CreateClient(from.Session);
        return await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = to.AccountNumber, amount })).AssertJsonAsync();
    }

    public static async Task<JsonElement> ReadyAsync(this TallyTestHost factory)
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/ready");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }
}
