using Tally.Load.ScenarioFiles;

namespace Tally.Load.Tests.ScenarioFiles;

/// <summary>Parsing and validation: every error names the file, the line and column, and the field.</summary>
public class ScenarioFileTests
{
    private static readonly string[] SeedColumns = ["phone", "password", "account_number", "id"];

    private static string Compile(string yaml, params string[] columns)
    {
        var e = Assert.ThrowsAny<FormatException>(() => ScenarioFile.Parse(yaml, "t.yaml").Compile(columns.Length == 0 ? SeedColumns : columns));
        return e.Message;
    }

    [Theory]
    [InlineData("name: x\ncolour: red\nflows: []\n", "t.yaml:2:1: colour: unknown field")]
    [InlineData("name: x\nflows: []\n", "t.yaml:1:1: flows: a scenario needs at least one flow")]
    [InlineData("flows:\n  - steps:\n      - request: GTE /a\n", "t.yaml:3:18: flows[0].steps[0].request: expected 'METHOD /path'")]
    [InlineData("flows:\n  - steps:\n      - request: GET a\n", "t.yaml:3:18: flows[0].steps[0].request")]
    [InlineData("flows:\n  - steps:\n      - request: GET /a\n        header: { a: b }\n", "t.yaml:4:9: flows[0].steps[0].header: unknown field")]
    [InlineData("flows:\n  - steps:\n      - request: GET /a\n        headers: { X-Session: \"{{sesion}}\" }\n", "t.yaml:4:31: flows[0].steps[0].headers.X-Session: {{sesion}}: unknown name")]
    [InlineData("flows:\n  - steps:\n      - request: GET /a/{{user.acount}}\n", "flows[0].steps[0].request: {{user.acount}}: the data has no field 'acount' (it has: phone, password, account_number, id)")]
    [InlineData("flows:\n  - steps:\n      - request: GET /a\n        json: { n: \"{{random(9, 1)}}\" }\n", "t.yaml:4:20: flows[0].steps[0].json.n: {{random(9, 1)}}: random takes two integers")]
    [InlineData("flows:\n  - steps:\n      - request: GET /a\n        check: { status: 2xy }\n", "t.yaml:4:26: flows[0].steps[0].check.status: expected a status such as 200 or 2xx")]
    [InlineData("flows:\n  - steps:\n      - request: GET /a\n        check: { json: { $.a: { equals: 1 } } }\n", "flows[0].steps[0].check.json.$.a.equals: unknown field")]
    [InlineData("flows:\n  - steps:\n      - request: GET /a\n        check: { json: { $.a: { gte: lots } } }\n", "t.yaml:4:38: flows[0].steps[0].check.json.$.a.gte: 'lots' is not a number")]
    [InlineData("flows:\n  - steps:\n      - request: GET /a\n        think: soon\n", "t.yaml:4:16: flows[0].steps[0].think: expected a duration")]
    [InlineData("flows:\n  - weight: -1\n    steps:\n      - request: GET /a\n", "t.yaml:2:13: flows[0].weight: expected a number ≥ 0")]
    [InlineData("flows:\n  - weight: 0\n    steps:\n      - request: GET /a\n", "flows: the weights sum to 0")]
    [InlineData("flows:\n  - name: a\n    steps: [ { request: GET /a } ]\n  - name: a\n    steps: [ { request: GET /b } ]\n", "t.yaml:4:5: flows[1].name: two flows are named 'a'")]
    [InlineData("slo: p95<fast\nflows:\n  - steps: [ { request: GET /a } ]\n", "t.yaml:1:6: slo: threshold 'p95<fast'")]
    [InlineData("after_run: audit\nflows:\n  - steps: [ { request: GET /a } ]\n", "t.yaml:1:12: after_run: unknown hook 'audit' (known: tally-audit)")]
    [InlineData("base_url: ftp://x\nflows:\n  - steps: [ { request: GET /a } ]\n", "t.yaml:1:11: base_url: expected an absolute http(s) URL")]
    [InlineData("flows:\n  - steps:\n    - request: GET /a\n     headers: x\n", "t.yaml:4:")]
    [InlineData("flows:\n  - steps: [ { request: \"GET /a/{{user.id\" } ]\n", "'{{' without a closing '}}'")]
    [InlineData("data: { setup: [] }\nflows:\n  - steps: [ { request: GET /a } ]\n", "t.yaml:1:7: data: needs 'file'")]
    public void AMistake_IsReported_WithItsLineAndField(string yaml, string expected)
    {
        var message = Compile(yaml);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACapture_UsedBeforeTheStepThatMakesIt_IsAnError()
    {
        var message = Compile("""
            flows:
              - steps:
                  - request: GET /a
                    headers: { X-Session: "{{token}}" }
                  - request: POST /login
                    capture: { token: $.session }
            """);
        Assert.Contains("t.yaml:4:31: flows[0].steps[0].headers.X-Session: {{token}}: unknown name", message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACapture_FromAnotherFlow_IsNotInScope()
    {
        var message = Compile("""
            flows:
              - steps:
                  - request: POST /login
                    capture: { token: $.session }
              - steps:
                  - request: GET /a
                    headers: { X-Session: "{{token}}" }
            """);
        Assert.Contains("flows[1].steps[0].headers.X-Session: {{token}}: unknown name", message, StringComparison.Ordinal);
    }

    [Fact]
    public void DataSetupCaptures_BecomeFieldsOfEveryRow()
    {
        var plan = ScenarioFile.Parse("""
            data:
              file: users.json
              setup:
                - request: POST /login
                  capture: { session: $.session }
            flows:
              - steps:
                  - request: GET /a
                    headers: { X-Session: "{{user.session}}" }
            """, "t.yaml").Compile(SeedColumns);
        Assert.Single(plan.DataSetup);
        Assert.Equal(1, plan.DataSetupCaptures);
        Assert.Equal(["GET /a"], plan.Endpoints);
    }

    [Fact]
    public void EndpointNames_AreTheStepNames_OrMethodAndPathWithoutTheQuery_SharedAcrossFlows()
    {
        var plan = ScenarioFile.Parse("""
            flows:
              - steps:
                  - request: GET /a?page=1
                  - name: create thing
                    request: POST /things
              - steps:
                  - request: GET /a?page=2
                  - request: GET /b/{{vu}}
            """, "t.yaml").Compile([]);
        Assert.Equal(["GET /a", "create thing", "GET /b/{{vu}}"], plan.Endpoints);
    }

    [Fact]
    public void TheShippedScenarios_AreTheBuiltInsAndTheBankingDemo()
    {
        Assert.Equal(["balance", "banking-demo", "login", "mixed", "transfer"], ScenarioFile.Shipped);
        var unknown = Assert.Throws<ArgumentException>(() => ScenarioFile.LoadShipped("mix"));
        Assert.Contains("unknown scenario 'mix' (shipped: balance, banking-demo, login, mixed, transfer, ws; or --scenario-file FILE)", unknown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("login", new[] { "POST /api/auth/login" })]
    [InlineData("balance", new[] { "GET /api/account/balance" })]
    [InlineData("transfer", new[] { "POST /api/transfer/transfer" })]
    [InlineData("mixed", new[] { "GET /api/account/balance", "GET /api/account/transactions", "POST /api/transfer/transfer", "POST /api/auth/login" })]
    public void TheBuiltInFiles_GiveTheEndpointsOfTheFormerCSharpScenarios(string name, string[] endpoints)
    {
        var file = ScenarioFile.LoadShipped(name);
        var plan = file.Compile(SeedColumns);
        Assert.Equal(name, file.Name);
        // The names the C# scenarios reported, so that reports and `compare` line up across the change.
        Assert.Equal(endpoints, plan.Endpoints);
        Assert.Equal(ScenarioFile.TallyAuditHook, file.AfterRun);
        Assert.Equal("users.json", file.DataFile);
        Assert.Equal(["POST /api/auth/login"], plan.DataSetup.Select(s => $"{s.Method} {s.Path.Source}"));
    }

    [Fact]
    public void TheMixedFile_KeepsTheMixedWeights()
    {
        var plan = ScenarioFile.LoadShipped("mixed").Compile(SeedColumns);
        Assert.Equal(["balance", "history", "transfer", "login"], plan.Flows.Select(f => f.Name));
        Assert.Equal([55.0, 15, 25, 5], plan.Flows.Select(f => f.Weight));
        Assert.Equal([0.55, 0.70, 0.95, 1.0], plan.CumulativeWeights.Select(w => Math.Round(w, 10)));
    }

    [Fact]
    public void TheBankingDemoFile_UsesOnlyTheV3Contract_AndCarriesAnSlo()
    {
        // shared/API.md without the parts marked (Tally): no transactions, no GET /api/transfer/{id}, no logout, no admin.
        string[] v3 =
        [
            "POST /api/auth/register", "POST /api/auth/login", "GET /api/auth/health", "GET /api/account/me", "GET /api/account/balance",
            "GET /api/account/lookup", "GET /api/account/health", "POST /api/transfer/transfer", "POST /api/transfer/confirm",
            "POST /api/transfer/cancel", "GET /api/transfer/health", "GET /api/notifications/notifications", "GET /api/notifications/health",
        ];
        var file = ScenarioFile.LoadShipped("banking-demo");
        var plan = file.Compile(SeedColumns);
        var requests = plan.Flows.SelectMany(f => f.Steps).Concat(plan.DataSetup).Select(s => $"{s.Method} {s.Path.Source.Split('?')[0]}").Distinct().ToList();
        Assert.All(requests, r => Assert.Contains(r, v3));
        Assert.True(requests.Count >= 8, string.Join(", ", requests));
        Assert.Null(file.AfterRun);
        Assert.Equal("p95<300ms,p99<1s,errors<1%", file.Slo?.Text);
    }

    [Fact]
    public void TheReadmesExample_Compiles()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Tally.slnx")))
        {
            directory = directory.Parent;
        }
        Assert.NotNull(directory);
        var readme = File.ReadAllText(Path.Combine(directory.FullName, "src", "Tally.Load", "README.md"));
        var start = readme.IndexOf("```yaml\nname: shop", StringComparison.Ordinal);
        Assert.True(start >= 0, "the README has no scenario example");
        var yaml = readme[(start + "```yaml\n".Length)..readme.IndexOf("```", start + 7, StringComparison.Ordinal)];
        var file = ScenarioFile.Parse(yaml, "README.md");
        var plan = file.Compile(SeedColumns);
        Assert.Equal("shop", file.Name);
        Assert.Equal(["create order", "GET /api/orders/{{order}}"], plan.Endpoints);
        Assert.Equal(["session"], plan.DataSetup.SelectMany(s => s.Captures).Select(c => c.Name));
    }

    [Fact]
    public void ACsvDataFile_ReadsQuotedFields_AsStrings()
    {
        var data = DataFile.ParseCsv("phone,note\r\n5550001,\"a, \"\"quoted\"\" note\"\n0042,plain\n", "u.csv");
        Assert.Equal(["phone", "note"], data.Columns);
        Assert.Equal(2, data.Rows.Count);
        Assert.Equal(new Value("a, \"quoted\" note", false), data.Rows[0][1]);
        Assert.Equal(new Value("0042", false), data.Rows[1][0]);
        var bad = Assert.Throws<FormatException>(() => DataFile.ParseCsv("a,b\n1\n", "u.csv"));
        Assert.Contains("u.csv: line 2 has 1 fields, the header 2", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AJsonDataFile_KeepsNumbersAsNumbers()
    {
        var data = DataFile.ParseJson("""[{"phone":"0555","id":7},{"phone":"0556","id":8}]""", "u.json");
        Assert.Equal(["phone", "id"], data.Columns);
        Assert.Equal(new Value("0555", false), data.Rows[0][0]);
        Assert.Equal(new Value("8", true), data.Rows[1][1]);
        var bad = Assert.Throws<FormatException>(() => DataFile.ParseJson("""[{"phone":"1"},{"id":2}]""", "u.json"));
        Assert.Contains("u.json: row 1 has no field 'id'", bad.Message, StringComparison.Ordinal);
    }
}
