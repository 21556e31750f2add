using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Tally.Server.Tests.OpenApi;

/// <summary>
/// A real Tally on Kestrel (a loopback port) behind <c>prism proxy</c>, which validates every request and response
/// against the document that this Tally serves. Prism runs without <c>--errors</c>: it forwards every request, also
/// the invalid ones (so that Tally's own problem answers can be checked), and reports what it found in the
/// <c>sl-violations</c> header of the answer.
/// </summary>
public sealed partial class PrismProxiedTally : EmbeddedTallyApp, IAsyncLifetime
{
    /// <summary>Few registrations and logins per minute, so that the suite can provoke each 429 with a handful of requests.</summary>
    public const int RegistrationsPerMinute = 20;

    public const int LoginsPerPhonePerMinute = 5;

    private readonly List<Process> _prisms = [];
    private readonly StringBuilder _prismOutput = new();

    public PrismProxiedTally() : base(new Dictionary<string, string?>
    {
        ["Auth:RegistrationsPerIpPerMinute"] = RegistrationsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Auth:LoginPermitsPerPhonePerMinute"] = LoginsPerPhonePerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
    })
    {
        UseKestrel(0);
    }

    /// <summary>Tally itself, on its Kestrel port.</summary>
    public Uri TallyAddress { get; private set; } = null!;

    /// <summary>Prism, in front of Tally.</summary>
    public Uri ProxyAddress { get; private set; } = null!;

    /// <summary>
    /// A second prism in front of the same Tally, validating against a copy of the document that two answers can't
    /// meet: AreaHealth (the health answer) requires a property that Tally never sends, and getMe's 401 problem allows
    /// an error_code other than Tally's. Proof that violations in bodies and in problems are seen.
    /// </summary>
    public Uri TamperedProxyAddress { get; private set; } = null!;

    /// <summary>The document as Tally served it, which prism validates against.</summary>
    public JsonElement Document { get; private set; }

    public string PrismLog
    {
        get
        {
            lock (_prismOutput)
            {
                return _prismOutput.ToString();
            }
        }
    }

    public async Task InitializeAsync()
    {
        StartServer();
        using (var direct = CreateClient())
        {
            TallyAddress = direct.BaseAddress!;
            var text = await direct.GetStringAsync("/openapi/v1.json");
            var path = OpenApiTools.ArtifactPath("proxy-v1.json");
            await File.WriteAllTextAsync(path, text);
            using var document = JsonDocument.Parse(text);
            Document = document.RootElement.Clone();
            var prism = await OpenApiTools.CommandAsync("prism");
            ProxyAddress = await StartPrismAsync(prism, path, TallyAddress.ToString().TrimEnd('/'));
            var tampered = JsonNode.Parse(text)!;
            tampered["components"]!["schemas"]!["AreaHealth"]!["required"]!.AsArray().Add("no_such_field");
            tampered["paths"]!["/api/account/me"]!["get"]!["responses"]!["401"]!["content"]!["application/problem+json"]!["schema"]!["allOf"]![1]!
                ["properties"]!["error_code"]!["enum"] = new JsonArray("NO_SUCH_CODE");
            var tamperedPath = OpenApiTools.ArtifactPath("proxy-v1-tampered.json");
            await File.WriteAllTextAsync(tamperedPath, tampered.ToJsonString());
            TamperedProxyAddress = await StartPrismAsync(prism, tamperedPath, TallyAddress.ToString().TrimEnd('/'));
        }
        using var client = new HttpClient { BaseAddress = ProxyAddress };
        var response = await client.GetAsync("/api/auth/health");
        Assert.True(response.IsSuccessStatusCode, $"Tally through prism answered {(int)response.StatusCode}:\n{PrismLog}");
    }

    private async Task<Uri> StartPrismAsync(string prism, string document, string upstream)
    {
        var start = new ProcessStartInfo(prism)
        {
            WorkingDirectory = OpenApiTools.ToolsDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Port 0: prism takes a free port and says which; no race for a port chosen beforehand.
        foreach (var argument in new[] { "proxy", document, upstream, "--host", "127.0.0.1", "--port", "0", "--errors", "false", "--multiprocess", "false" })
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["SCARF_ANALYTICS"] = "false";
        start.Environment["NO_COLOR"] = "1";
        start.Environment["FORCE_COLOR"] = "0";
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Read(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (_prismOutput)
            {
                _prismOutput.AppendLine(line);
            }
            if (ListeningLine().Match(line) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value));
            }
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("prism did not start");
        _prisms.Add(process);
        process.OutputDataReceived += (_, e) => Read(e.Data);
        process.ErrorDataReceived += (_, e) => Read(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var started = await Task.WhenAny(listening.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(started == listening.Task, $"prism proxy did not start listening:\n{PrismLog}");
        return await listening.Task;
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        foreach (var prism in _prisms)
        {
            if (!prism.HasExited)
            {
                prism.Kill(entireProcessTree: true);
                await prism.WaitForExitAsync();
            }
            prism.Dispose();
        }
        await base.DisposeAsync();
    }

    [GeneratedRegex(@"listening on (http://[0-9.]+:[0-9]+)")]
    private static partial Regex ListeningLine();
}
