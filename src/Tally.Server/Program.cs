using Tally.Server;
using Tally.Server.Admission;
using Tally.Server.Cache;
using Tally.Server.Features.Accounts;
using Tally.Server.Features.Auth;
using Tally.Server.Features.Notifications;
using Tally.Server.Features.Transfers;
using Tally.Server.Features.WebApp;
using Tally.Server.Http;
using Tally.Server.Observability;
using Tally.Server.Options;
using Microsoft.Extensions.Options;

// Settings ship beside the binary; ./data/ stays relative to the folder Tally is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.AddCachedReadiness();
builder.AddTallyOptions();
builder.AddTallyHttp();
builder.AddTallyAdmission();
builder.AddTallyStorage();
builder.AddTallyCache();
builder.AddTallyBus();
builder.AddTallyAuth();
builder.AddTallyFeatures();
builder.AddTallyObservability();

var app = builder.Build();

app.MigrateTallyDatabase();
app.UseTallyHttp();
app.UseTallyWebSockets();
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();

app.MapDefaultEndpoints();
// Role=worker serves only /health, /ready and /metrics; Role=api and Role=all serve the API too.
if (app.Services.GetRequiredService<IOptions<RoleOptions>>().Value.ServesApi)
{
    app.MapAuthApi();
    app.MapAccountApi();
    app.MapAdminApi();
    app.MapTransferApi();
    app.MapNotificationApi();
    app.MapTallyDocs();
    app.MapTallyWebApp();
}

app.Run();

public partial class Program;
