using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace Tally.RabbitMq.Tests.Infrastructure;

/// <summary>Tally with Bus:Transport=RabbitMq on the private broker, its queues under a prefix of its own.</summary>
public sealed class RabbitTallyFactory : WebApplicationFactory<Program>
{
    public const string AdminSecret = "rmq-admin-secret";

    private readonly Dictionary<string, string?> _settings;

    /// <param name="provider">Sqlite (a temp folder of its own) or Postgres (the private server's database).</param>
    public RabbitTallyFactory(PrivateServices services, string role = "all", string provider = "Sqlite", string? queuePrefix = null, string? signingKey = null, IDictionary<string, string?>? overrides = null)
    {
        QueuePrefix = queuePrefix ?? "t" + Guid.NewGuid().ToString("N")[..10];
        DataDirectory = Path.Combine(Path.GetTempPath(), "tally-rmq-tests", Guid.NewGuid().ToString("N"));
        _settings = new Dictionary<string, string?>
        {
            ["Role"] = role,
            ["Bus:Transport"] = "RabbitMq",
            ["ConnectionStrings:RabbitMq"] = services.RabbitMq,
            ["Bus:RabbitMq:QueuePrefix"] = QueuePrefix,
            ["Storage:Provider"] = provider,
            ["ConnectionStrings:Postgres"] = services.Postgres,
            ["Storage:DataDirectory"] = DataDirectory,
            ["Auth:SigningKey"] = signingKey ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Auth:PasswordIterations"] = "1000",
            ["Auth:LoginPermitsPerIpPerMinute"] = "100000",
            ["Auth:LoginPermitsPerPhonePerMinute"] = "100000",
            ["Admin:Secret"] = AdminSecret,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
    }

    public string QueuePrefix { get; }

    public string DataDirectory { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(_settings));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }
}

public sealed record TestUser(long Id, string Phone, string Username, string AccountNumber, string Session);

public static class Kit
{
    private static int s_phone = Random.Shared.Next(1_000_000);

    public static string NewPhone() => "7" + Interlocked.Increment(ref s_phone).ToString("D10", System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<TestUser> RegisterAndLoginAsync(this WebApplicationFactory<Program> factory)
    {
        using var client = factory.CreateClient();
        var phone = NewPhone();
        var name = "user" + phone[^5..];
        const string password = "correct horse battery";
        var registered = await (await client.PostAsJsonAsync("/api/auth/register", new { phone, username = name, password })).AssertJsonAsync();
        var login = await (await client.PostAsJsonAsync("/api/auth/login", new { phone, password })).AssertJsonAsync();
        return new TestUser(registered.GetProperty("id").GetInt64(), phone, name, registered.GetProperty("account_number").GetString()!, login.GetProperty("session").GetString()!);
    }

    public static HttpClient CreateClient(this WebApplicationFactory<Program> factory, TestUser user)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", user.Session);
        return client;
    }

    public static HttpClient CreateAdminClient(this WebApplicationFactory<Program> factory)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Secret", RabbitTallyFactory.AdminSecret);
        return client;
    }

    public static async Task<JsonElement> AssertJsonAsync(this HttpResponseMessage response, System.Net.HttpStatusCode expected = System.Net.HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, System.Net.HttpStatusCode status, string errorCode)
    {
        var problem = await response.AssertJsonAsync(status);
        Assert.Equal(errorCode, problem.GetProperty("error_code").GetString());
        return problem;
    }

    public static async Task<long> BalanceAsync(this WebApplicationFactory<Program> factory, TestUser user)
    {
        using var client = factory.CreateClient(user);
        var body = await (await client.GetAsync("/api/account/balance")).AssertJsonAsync();
        return body.GetProperty("balance").GetInt64();
    }

    public static async Task<JsonElement> AssertAuditOkAsync(this WebApplicationFactory<Program> factory)
    {
        using var admin = factory.CreateAdminClient();
        var audit = await (await admin.GetAsync("/api/account/admin/audit")).AssertJsonAsync();
        Assert.True(audit.GetProperty("ok").GetBoolean(), audit.ToString());
        return audit;
    }

    /// <summary>Waits until /ready is 200 (the broker connection and publisher are up).</summary>
    public static async Task WaitReadyAsync(this WebApplicationFactory<Program> factory)
    {
        using var client = factory.CreateClient();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string last = "";
        while (DateTime.UtcNow < until)
        {
            var response = await client.GetAsync("/ready");
            if (response.IsSuccessStatusCode)
            {
                return;
            }
            last = await response.Content.ReadAsStringAsync();
            await Task.Delay(100);
        }
        Assert.Fail("Not ready within 30 s: " + last);
    }
}
