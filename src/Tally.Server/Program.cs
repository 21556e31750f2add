using Tally.Server;
using Tally.Server.Admission;
using Tally.Server.Features.Accounts;
using Tally.Server.Features.Notifications;
using Tally.Server.Features.Transfers;
using Tally.Server.Features.WebApp;

// Settings ship beside the binary; ./data/ stays relative to the folder Tally is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

// The providers and the role, chosen once from configuration (validated here); each module registers only its own.
var composition = TallyComposition.Read(builder.Configuration);

builder.AddServiceDefaults();
builder.AddCachedReadiness();
builder.AddTallyOptions(composition);
builder.AddTallyHttp();
builder.AddTallyAdmission();
builder.AddTallyStorage(composition.Storage);
builder.AddTallyCache(composition.Cache);
builder.AddTallyBus(composition.Bus, composition.Role);
builder.AddTallyAuth();
builder.AddTallyFeatures(composition.Role);
builder.AddTallyObservability(composition.Role);

var app = builder.Build();

app.MigrateTallyDatabase();
app.UseTallyHttp();
app.UseTallyWebSockets();
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();

app.MapDefaultEndpoints();
// Role=worker serves only /health, /ready and /metrics; Role=api and Role=all serve the API too.
if (composition.ServesApi)
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
