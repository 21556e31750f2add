using Tally.Gateway.Protection;
using Tally.Gateway.Proxy;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.AddGatewayProtection();
builder.AddGatewayProxy();

var app = builder.Build();

app.UseGatewayProtection();
app.MapDefaultEndpoints();
app.MapGatewayProxy();

app.Run();

public partial class Program;
