using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace Tally.Server.Admission;

public static class AdmissionSetup
{
    public static WebApplicationBuilder AddTallyAdmission(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<AdmissionOptions>().BindConfiguration(AdmissionOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<AdmissionControl>();
        builder.Services.AddSingleton<WarmUp>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<WarmUp>());
        builder.Services.AddHealthChecks().Add(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckRegistration(
            "warmup", sp => sp.GetRequiredService<WarmUp>(), failureStatus: null, tags: [ServiceDefaultsExtensions.ReadyTag]));
        return builder;
    }

    /// <summary>
    /// Before any work: stamp the request's deadline, admit it through its bulkhead's adaptive limit (ASP.NET
    /// Core's rate-limiting middleware with <see cref="AdmissionControl"/> as its global limiter) or refuse it
    /// 503 <c>OVERLOADED</c> with <c>Retry-After</c>, and drop it 504 if its deadline passed while it waited.
    /// </summary>
    public static IApplicationBuilder UseTallyAdmission(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var services = app.ApplicationServices;
        var options = services.GetRequiredService<IOptions<AdmissionOptions>>().Value;
        if (!options.Enabled)
        {
            return app;
        }
        var time = services.GetRequiredService<TimeProvider>();
        var metrics = services.GetRequiredService<TallyMetrics>();
        var control = services.GetRequiredService<AdmissionControl>();
        metrics.ObserveAdmission(Enum.GetValues<Bulkhead>()
            .Select(b => (b.Name(), options.For(b).MinLimit, (Func<int>)(() => control[b].Limit), (Func<int>)(() => control[b].InFlight), (Func<int>)(() => control[b].Queued), (Func<double?>)(() => control[b].BaselineSeconds)))
            .ToArray());
        var delay = services.GetRequiredService<IQueueDelay>();
        metrics.ObserveThreadPoolDelay(() => delay.Standing.TotalSeconds);
        var budget = options.RequestBudget;
        var retryAfter = options.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);

        app.Use(async (context, next) =>
        {
            var given = Deadline.ParseTimeout(context.Request.Headers[Deadline.RequestTimeoutHeader]);
            Deadline.Current = time.GetUtcNow() + (given is { } asked && asked < budget ? asked : budget);
            await next(context);
        });
        app.UseRateLimiter(new RateLimiterOptions
        {
            GlobalLimiter = control,
            RejectionStatusCode = StatusCodes.Status503ServiceUnavailable,
            OnRejected = (rejected, _) =>
            {
                var http = rejected.HttpContext;
                var bulkhead = (Bulkheads.Of(http.Request) ?? Bulkhead.Read).Name();
                var reason = rejected.Lease.TryGetMetadata(MetadataName.ReasonPhrase, out var phrase) && phrase is not null ? phrase : AdaptiveConcurrencyLimiter.RefusedByLimit;
                metrics.Refused(bulkhead, reason);
                http.Response.Headers.RetryAfter = retryAfter;
                return new ValueTask(Problems.Create(
                    StatusCodes.Status503ServiceUnavailable,
                    ErrorCodes.Overloaded,
                    $"The instance is at capacity for {bulkhead} requests; nothing was done. Retry in {retryAfter} s.").ExecuteAsync(http));
            },
        });
        app.Use(async (context, next) =>
        {
            if (Bulkheads.Of(context.Request) is { } bulkhead)
            {
                metrics.Admitted(bulkhead.Name());
                if (time.GetUtcNow() >= Deadline.Current)
                {
                    metrics.DeadlineDropped("request");
                    await Problems.Create(StatusCodes.Status504GatewayTimeout, ErrorCodes.DeadlineExceeded, "The request's deadline passed before it started; nothing was done.")
                        .ExecuteAsync(context);
                    return;
                }
            }
            await next(context);
        });
        return app;
    }
}
