using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Tally.Server.Admission;

/// <summary>
/// Warms the hot paths before the instance reports ready, so that a new instance (a scale-out under load, a
/// restart) takes its first real requests at full speed instead of paying for JIT, connection pools and first
/// queries while clients wait. Before Kestrel listens: the database, a password hash. Once it listens: a few
/// requests to itself over loopback that go through routing, JSON, authentication, the login handler and the
/// health endpoints. Until then the <c>warmup</c> readiness check is unhealthy and /ready answers 503.
/// </summary>
public sealed class WarmUp(
    IServiceProvider services,
    IServer server,
    IHostApplicationLifetime lifetime,
    IOptions<AdmissionOptions> admission,
    IOptions<RoleOptions> role,
    ReadinessCache readiness,
    ILogger<WarmUp> logger) : IHostedService, IHealthCheck
{
    private volatile bool _warm;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!admission.Value.WarmUp)
        {
            _warm = true;
            return;
        }
        try
        {
            await services.GetRequiredService<ILedgerReader>().PingAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The database check reports it; warming must not keep an instance from starting.
            logger.LogWarning(ex, "Warm-up could not reach the database");
        }
        if (role.Value.ServesApi)
        {
            await services.GetRequiredService<PasswordHasher>().HashAsync("warm-up-only", cancellationToken).ConfigureAwait(false);
        }
        if (server.Features.Get<IServerAddressesFeature>() is null)
        {
            // A server without addresses (an in-memory test server) can't be warmed over loopback: warm already.
            _warm = true;
            return;
        }
        lifetime.ApplicationStarted.Register(() => _ = Task.Run(WarmOverHttpAsync, CancellationToken.None));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_warm ? HealthCheckResult.Healthy("warm") : HealthCheckResult.Unhealthy("warming up"));

    private async Task WarmOverHttpAsync()
    {
        try
        {
            if (role.Value.ServesApi && LoopbackAddress() is { } address)
            {
                using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
                var sent = 0;
                for (var round = 0; round < 3; round++)
                {
                    sent += await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, "/api/auth/health")).ConfigureAwait(false);
                    sent += await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, "/api/account/balance")).ConfigureAwait(false);
                    sent += await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, "/api/account/transactions?page=1&size=1")).ConfigureAwait(false);
                    sent += await SendAsync(http, new HttpRequestMessage(HttpMethod.Post, "/api/transfer/transfer") { Content = JsonContent.Create(new { to_account_number = "000000000000", amount = 1 }) }).ConfigureAwait(false);
                    // An unknown phone: the login handler, a user lookup and a dummy hash run; nothing is written.
                    sent += await SendAsync(http, new HttpRequestMessage(HttpMethod.Post, "/api/auth/login") { Content = JsonContent.Create(new { phone = "00000000", password = "warm-up-only" }) }).ConfigureAwait(false);
                }
                logger.LogInformation("Warmed up with {Count} requests to {Address}", sent, address);
            }
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Warm-up over HTTP failed; the instance reports ready anyway");
        }
        finally
        {
            _warm = true;
            readiness.Invalidate();
        }
    }

    private static async Task<int> SendAsync(HttpClient http, HttpRequestMessage request)
    {
        using (request)
        {
            try
            {
                using var response = await http.SendAsync(request).ConfigureAwait(false);
                return 1;
            }
            catch (HttpRequestException)
            {
                return 0;
            }
        }
    }

    // The first address Kestrel listens on, with a wildcard host replaced by loopback; null under a test server.
    private Uri? LoopbackAddress()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is null || !Uri.TryCreate(address.Replace("://+", "://127.0.0.1", StringComparison.Ordinal).Replace("://*", "://127.0.0.1", StringComparison.Ordinal), UriKind.Absolute, out var uri))
        {
            return null;
        }
        var builder = new UriBuilder(uri);
        if (builder.Host is "0.0.0.0")
        {
            builder.Host = "127.0.0.1";
        }
        else if (builder.Host is "[::]" or "::")
        {
            builder.Host = "[::1]";
        }
        return builder.Uri;
    }
}
