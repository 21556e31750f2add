using Tally.Server;
using Tally.Server.Features.Accounts;
using Tally.Server.Features.Auth;
using Tally.Server.Features.Notifications;
using Tally.Server.Features.Transfers;
using Tally.Server.Http;

// Settings ship beside the binary; ./data/ stays relative to the folder Tally is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.AddTallyOptions();
builder.AddTallyHttp();
builder.AddTallyStorage();
builder.AddTallyBus();
builder.AddTallyAuth();
builder.AddTallyFeatures();

var app = builder.Build();

app.MigrateTallyDatabase();
app.UseTallyHttp();
app.UseTallyWebSockets();
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();

app.MapDefaultEndpoints();
app.MapAuthApi();
app.MapAccountApi();
app.MapAdminApi();
app.MapTransferApi();
app.MapNotificationApi();
app.MapTallyDocs();

app.Run();

public partial class Program;
