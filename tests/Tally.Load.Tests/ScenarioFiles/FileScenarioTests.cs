using System.Text.Json;
using Tally.Load.Cli;
using Tally.Load.Scenarios;
using Tally.Load.ScenarioFiles;

namespace Tally.Load.Tests.ScenarioFiles;

/// <summary>A scenario file run against the stub's /echo, which answers with what it received.</summary>
public sealed class FileScenarioTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-load-files").FullName;
    private readonly HttpClient _client = Http.CreateClient(4, TimeSpan.FromSeconds(10));
    private StubServer _stub = null!;

    public async Task InitializeAsync() => _stub = await StubServer.StartAsync(_ => TimeSpan.Zero);

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        _client.Dispose();
        Directory.Delete(_dir, true);
    }

    private string Users(int count)
    {
        var path = Path.Combine(_dir, "users.json");
        File.WriteAllText(path, JsonSerializer.Serialize(Enumerable.Range(1, count).Select(i => new { phone = $"55500{i:D3}", password = "pw", id = i })));
        return path;
    }

    /// <summary>The scenario of <paramref name="yaml"/> on the stub, with the data file <paramref name="data"/> if any.</summary>
    private Task<FileScenario> CreateAsync(string yaml, string? data = null) =>
        FileScenario.CreateAsync(ScenarioFile.Parse(yaml, "t.yaml"), _stub.Root, data, _client, CancellationToken.None);

    [Fact]
    public async Task Templates_FillPathHeadersAndBody_KeepingNumbersAsNumbers()
    {
        var scenario = await CreateAsync("""
            variables: { amount: 42, note: load, code: "7" }
            data: { file: users.json }
            flows:
              - steps:
                  - request: POST /echo/{{user.id}}?to={{peer.phone}}
                    headers: { X-Session: "s-{{user.phone}}", Idempotency-Key: "{{uuid()}}" }
                    json:
                      amount: "{{amount}}"
                      fixed: "{{random(5, 5)}}"
                      note: "{{note}}-{{vu}}"
                      id: "{{user.id}}"
                      phone: "{{user.phone}}"
                      code: "{{code}}"
                      nested: [ { x: 1.5, t: true, n: null }, "{{peer.phone}}", "x{{seq()}}" ]
                    check:
                      json:
                        $.path: /echo/{{user.id}}
                        $.query: "?to={{peer.phone}}"
                        $.headers.x-session: s-{{user.phone}}
                        $.headers.idempotency-key: { exists: true }
                        $.headers.content-type: application/json; charset=utf-8
            """, Users(2));
        var outcome = await scenario.ExecuteAsync(new VuContext(_client, 3, new Random(1)), CancellationToken.None);
        Assert.True(outcome.Ok, outcome.ErrorKind);

        using var body = JsonDocument.Parse(Assert.Single(_stub.Echoed));
        var b = body.RootElement;
        Assert.Equal(42, b.GetProperty("amount").GetInt32());
        Assert.Equal(5, b.GetProperty("fixed").GetInt32());
        Assert.Equal("load-3", b.GetProperty("note").GetString());
        Assert.Equal("7", b.GetProperty("code").GetString());
        var id = b.GetProperty("id").GetInt32();
        Assert.Equal($"55500{id:D3}", b.GetProperty("phone").GetString());
        var nested = b.GetProperty("nested");
        Assert.Equal("""{"x":1.5,"t":true,"n":null}""", nested[0].GetRawText());
        // The peer is another row than the user.
        Assert.Equal($"55500{3 - id:D3}", nested[1].GetString());
        Assert.Equal("x1", nested[2].GetString());
    }

    [Fact]
    public async Task PlaceholdersInTheUrl_ArePercentEncoded_InPathAndQuery_ButNotInTheBody()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.Zero);
        using var client = Http.CreateClient(4, TimeSpan.FromSeconds(10));
        var users = Path.Combine(_dir, "names.json");
        File.WriteAllText(users, """[{ "name": "a/b?c d&é" }]""");
        var scenario = await FileScenario.CreateAsync(ScenarioFile.Parse("""
            variables: { tag: "x y/z#1" }
            data: { file: names.json }
            flows:
              - steps:
                  - request: POST /echo/{{user.name}}/item?q={{user.name}}&t={{tag}}&n={{vu}}
                    json: { name: "{{user.name}}", tag: "{{tag}}" }
            """, "t.yaml"), stub.Root, users, client, CancellationToken.None);
        var outcome = await scenario.ExecuteAsync(new VuContext(client, 3, new Random(1)), CancellationToken.None);
        Assert.True(outcome.Ok, outcome.ErrorKind);
        using var body = JsonDocument.Parse(Assert.Single(stub.Echoed));
        Assert.Equal("a/b?c d&é", body.RootElement.GetProperty("name").GetString());
        Assert.Equal("x y/z#1", body.RootElement.GetProperty("tag").GetString());
        Assert.Equal("/echo/a%2Fb%3Fc%20d%26%C3%A9/item?q=a%2Fb%3Fc%20d%26%C3%A9&t=x%20y%2Fz%231&n=3", Assert.Single(stub.Targets));
    }

    [Theory]
    [InlineData("$.body.balance: 100", true)]
    [InlineData("$.body.balance: \"100.00\"", true)]
    [InlineData("$.body.exp: 100", true)]
    [InlineData("$.body.balance: 101", false)]
    [InlineData("$.body.text: \"100\"", true)]
    [InlineData("$.body.text: 100.0", false)]
    [InlineData("$.body.balance: { gte: 100 }", true)]
    [InlineData("$.body.balance: { gt: 99.5, lt: 100.5 }", true)]
    [InlineData("$.body.balance: { gt: 100 }", false)]
    [InlineData("$.body.balance: { lte: \"{{limit}}\" }", true)]
    [InlineData("$.body.big: { gt: 9 }", true)]
    [InlineData("$.body.text: { gte: 99 }", true)]
    [InlineData("$.body.word: { gte: 0 }", false)]
    public async Task NumericChecks_CompareNumbers_NotTheirText(string check, bool passes)
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.Zero);
        using var client = Http.CreateClient(4, TimeSpan.FromSeconds(10));
        var scenario = await FileScenario.CreateAsync(ScenarioFile.Parse($$"""
            variables: { limit: 100.0 }
            flows:
              - steps:
                  - request: POST /echo
                    json: { balance: 100.0, exp: 1e2, big: 10, text: "100", word: "ten" }
                    check:
                      json: { {{check}} }
            """, "t.yaml"), stub.Root, null, client, CancellationToken.None);
        var outcome = await scenario.ExecuteAsync(new VuContext(client, 0, new Random(1)), CancellationToken.None);
        Assert.Equal(passes, outcome.Ok);
        if (!passes)
        {
            Assert.StartsWith("check failed: $.body.", outcome.ErrorKind, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Captures_CarryValuesToLaterSteps_AndAMissingOne_FailsAndRestartsTheFlow()
    {
        var scenario = await CreateAsync("""
            flows:
              - steps:
                  - name: login
                    request: POST /echo
                    json: { session: "t-{{vu}}-{{iteration}}", num: 7 }
                    capture: { token: $.body.session, num: $.body.num, n: $.n }
                  - name: use
                    request: POST /echo/use
                    headers: { X-Session: "{{token}}" }
                    json: { got: "{{token}}", num: "{{num}}", label: "n={{n}}" }
                    check: { json: { $.headers.x-session: "t-{{vu}}-{{iteration}}", $.body.num: "{{num}}" } }
                  - name: missing
                    request: POST /echo
                    capture: { x: $.body.missing }
                  - name: never
                    request: GET /echo
            """);
        Assert.Equal(["login", "use", "missing", "never"], scenario.Endpoints);
        var vu = new VuContext(_client, 2, new Random(1));
        var outcomes = new List<Outcome>();
        for (var i = 0; i < 6; i++)
        {
            outcomes.Add(await scenario.ExecuteAsync(vu, CancellationToken.None));
        }
        // login, use, missing (fails: ends the flow), then the flow starts over.
        Assert.Equal([0, 1, 2, 0, 1, 2], outcomes.Select(o => o.Endpoint));
        Assert.Equal([true, true, false, true, true, false], outcomes.Select(o => o.Ok));
        Assert.Equal("capture x: $.body.missing not found", outcomes[2].ErrorKind);

        var bodies = _stub.Echoed.ToList();
        using var used = JsonDocument.Parse(bodies[1]);
        Assert.Equal("t-2-1", used.RootElement.GetProperty("got").GetString());
        Assert.Equal(7, used.RootElement.GetProperty("num").GetInt32());
        Assert.Equal("n=1", used.RootElement.GetProperty("label").GetString());
        using var second = JsonDocument.Parse(bodies[4]);
        Assert.Equal("t-2-2", second.RootElement.GetProperty("got").GetString());
    }

    [Fact]
    public async Task Weights_AreHonoured()
    {
        var scenario = await CreateAsync("""
            flows:
              - { name: a, weight: 3, steps: [ { request: GET /work/a } ] }
              - { name: b, weight: 1, steps: [ { request: GET /work/b } ] }
              - { name: c, weight: 0, steps: [ { request: GET /work/c } ] }
            """);
        var counts = new int[3];
        const int Iterations = 4000;
        for (var i = 0; i < Iterations; i++)
        {
            var vu = new VuContext(_client, i % 8, new Random(i));
            var o = await scenario.ExecuteAsync(vu, CancellationToken.None);
            Assert.True(o.Ok, o.ErrorKind);
            counts[o.Endpoint]++;
        }
        // 3:1 is 75%; the binomial standard deviation at 4,000 draws is 0.7 points.
        Assert.InRange(counts[0] / (double)Iterations, 0.72, 0.78);
        Assert.Equal(0, counts[2]);
    }

    [Fact]
    public async Task ARunFromAFile_CountsPassingAndFailingChecks_PerStep()
    {
        var file = Path.Combine(_dir, "checks.yaml");
        var json = Path.Combine(_dir, "run.json");
        await File.WriteAllTextAsync(file, """
            name: checks
            base_url: http://127.0.0.1:1/
            flows:
              - name: main
                steps:
                  - { name: passes, request: GET /echo, check: { status: 200, json: { $.method: GET } } }
                  - { name: fails, request: GET /echo, check: { json: { $.method: POST } } }
                  - { name: never, request: GET /echo }
              - name: statuses
                steps:
                  - { name: expected 404, request: GET /status/404, check: { status: [404, 410] } }
                  - { name: unexpected 503, request: GET /status/503 }
                  - { name: 200 not json, request: GET /status/200, check: { json: { $.a: 1 } } }
            """);
        // --target overrides the file's base_url (which points nowhere).
        var (code, output) = await TestConsole.RunAsync("run", "--scenario-file", file, "--target", _stub.Root.ToString(), "--vus", "2", "--duration", "1s",
            "--server-metrics", "off", "--quiet", "--json", json);
        Assert.True(code == ExitCodes.Ok, output);

        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var summary = doc.RootElement.GetProperty("summary");
        Assert.Equal("checks", doc.RootElement.GetProperty("scenario").GetString());
        var endpoints = summary.GetProperty("endpoints").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!,
            e => (Requests: e.GetProperty("requests").GetInt64(), Errors: e.GetProperty("errors").GetInt64()));
        // A failed step ends its flow: "never" and the steps after "unexpected 503" are not sent.
        Assert.Equal(["passes", "fails", "expected 404", "unexpected 503"], endpoints.Keys.Order(StringComparer.Ordinal).OrderBy(k => k switch
        {
            "passes" => 0, "fails" => 1, "expected 404" => 2, _ => 3,
        }));
        Assert.True(endpoints["passes"].Requests > 10, output);
        Assert.Equal(0, endpoints["passes"].Errors);
        Assert.Equal(endpoints["fails"].Requests, endpoints["fails"].Errors);
        Assert.Equal(0, endpoints["expected 404"].Errors);
        Assert.Equal(endpoints["unexpected 503"].Requests, endpoints["unexpected 503"].Errors);
        var kinds = summary.GetProperty("errors_by_kind");
        Assert.Equal(endpoints["fails"].Errors, kinds.GetProperty("check failed: $.method == POST").GetInt64());
        Assert.Equal(endpoints["unexpected 503"].Errors, kinds.GetProperty("503 STUB_503").GetInt64());
        Assert.Equal(summary.GetProperty("errors").GetInt64(), endpoints.Values.Sum(e => e.Errors));
    }

    [Fact]
    public async Task AFilesSlo_JudgesTheRun_UnlessTheCommandLineGivesOne()
    {
        await using var stub = await StubServer.StartAsync(_ => TimeSpan.FromMilliseconds(20));
        var file = Path.Combine(_dir, "slo.yaml");
        await File.WriteAllTextAsync(file, """
            slo: p95<5ms
            flows:
              - steps: [ { request: GET /work } ]
            """);
        string[] args = ["run", "--scenario-file", file, "--target", stub.Root.ToString(), "--vus", "2", "--duration", "1s", "--server-metrics", "off", "--quiet"];
        var (breached, output) = await TestConsole.RunAsync(args);
        Assert.True(breached == ExitCodes.SloBreached, output);
        Assert.Contains("threshold p95<5ms", output, StringComparison.Ordinal);
        var (ok, output2) = await TestConsole.RunAsync([.. args, "--slo", "p95<2s"]);
        Assert.True(ok == ExitCodes.Ok, output2);
    }

    [Fact]
    public async Task AStepsThinkTime_PacesTheClosedModel_InsteadOfThink()
    {
        var file = Path.Combine(_dir, "think.yaml");
        var json = Path.Combine(_dir, "think.json");
        await File.WriteAllTextAsync(file, """
            flows:
              - steps:
                  - { name: slow, request: GET /work/slow, think: 400ms }
                  - { name: fast, request: GET /work/fast, think: 0s }
            """);
        // --think 1h would stop every user after its first request; the steps' own think times win.
        var (code, output) = await TestConsole.RunAsync("run", "--scenario-file", file, "--target", _stub.Root.ToString(), "--vus", "2", "--duration", "2s",
            "--think", "1h", "--server-metrics", "off", "--quiet", "--json", json);
        Assert.True(code == ExitCodes.Ok, output);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var endpoints = doc.RootElement.GetProperty("summary").GetProperty("endpoints").EnumerateArray()
            .ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("requests").GetInt64());
        // Each user: slow, 400 ms, fast, slow, 400 ms, ... about 5 rounds in 2 s, far from the thousands without think time.
        Assert.InRange(endpoints["slow"], 6, 12);
        Assert.InRange(endpoints["fast"], 4, 12);
    }

    [Fact]
    public async Task DataSetup_RunsOncePerRow_AndItsCapturesAreFieldsInTheFlows()
    {
        var scenario = await CreateAsync("""
            data:
              file: users.json
              setup:
                - request: POST /echo/login
                  json: { phone: "{{user.phone}}", password: "{{user.password}}" }
                  capture: { session: $.body.phone }
            flows:
              - steps:
                  - request: GET /echo
                    headers: { X-Session: "session-of-{{user.session}}" }
                    check: { json: { $.headers.x-session: "session-of-{{user.phone}}" } }
            """, Users(5));
        Assert.Equal(5, _stub.Echoed.Count);
        for (var i = 0; i < 20; i++)
        {
            var o = await scenario.ExecuteAsync(new VuContext(_client, i, new Random(i)), CancellationToken.None);
            Assert.True(o.Ok, o.ErrorKind);
        }
    }

    [Fact]
    public async Task AFailingDataSetup_StopsBeforeTheRun_WithTheRowAndTheReason()
    {
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => CreateAsync("""
            data:
              file: users.json
              setup:
                - { name: login, request: GET /status/401 }
            flows:
              - steps: [ { request: GET /echo } ]
            """, Users(2)));
        Assert.Matches("data setup step 'login' for row [12]: 401 STUB_401", e.Message);
    }

    [Fact]
    public async Task TooFewRows_ForAPeer_IsAClearError()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => CreateAsync("""
            data: { file: users.json }
            flows:
              - steps: [ { request: "GET /echo/{{peer.phone}}" } ]
            """, Users(1)));
        Assert.Contains("holds 1 row(s), and t needs at least 2", e.Message, StringComparison.Ordinal);
    }
}
