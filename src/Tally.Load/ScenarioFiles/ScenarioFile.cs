using System.Reflection;
using YamlDotNet.RepresentationModel;

namespace Tally.Load.ScenarioFiles;

internal sealed record Capture(string Name, int Slot, JsonPath Path);

/// <summary>How a check compares a JSON field with its expected value.</summary>
internal enum CheckOperator { Equal, Greater, GreaterOrEqual, Less, LessOrEqual }

/// <summary>A check on a JSON field: equal to a value (numbers as numbers), ordered against a number, or present (or absent).</summary>
internal sealed record JsonCheck(JsonPath Path, Template? Expected, bool? Exists, string Text, CheckOperator Operator = CheckOperator.Equal)
{
    /// <summary>
    /// Whether the field found holds against <paramref name="expected"/>. Equality compares numbers as
    /// numbers when the field is a JSON number (100 equals 100.0 and 1e2), anything else as text; an
    /// ordering needs a number (or a string holding one) on both sides.
    /// </summary>
    public bool Holds(JsonElement value, string expected)
    {
        var text = value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
        if (Operator == CheckOperator.Equal)
        {
            return value.ValueKind == JsonValueKind.Number && Compare(text, expected) is { } order ? order == 0 : text == expected;
        }
        if (value.ValueKind is not (JsonValueKind.Number or JsonValueKind.String) || Compare(text, expected) is not { } c)
        {
            return false;
        }
        return Operator switch
        {
            CheckOperator.Greater => c > 0,
            CheckOperator.GreaterOrEqual => c >= 0,
            CheckOperator.Less => c < 0,
            _ => c <= 0,
        };
    }

    /// <summary>Whether the text is a number in JSON's notation.</summary>
    public static bool IsNumber(string text) => Compare(text, text) is not null;

    /// <summary>
    /// The order of two numbers written as text, or null when either is not one: as decimals when
    /// both fit (exact, as money needs), else as doubles.
    /// </summary>
    private static int? Compare(string a, string b)
    {
        const NumberStyles style = NumberStyles.Float;
        var invariant = CultureInfo.InvariantCulture;
        if (decimal.TryParse(a, style, invariant, out var da) && decimal.TryParse(b, style, invariant, out var db))
        {
            return da.CompareTo(db);
        }
        if (double.TryParse(a, style, invariant, out var xa) && double.TryParse(b, style, invariant, out var xb) && double.IsFinite(xa) && double.IsFinite(xb))
        {
            return xa.CompareTo(xb);
        }
        return null;
    }
}

/// <summary>One request of a flow, compiled: everything the hot path needs is resolved to indexes and templates.</summary>
internal sealed class StepPlan
{
    public required string Name { get; init; }
    public required int Endpoint { get; init; }
    public required HttpMethod Method { get; init; }
    public required Template Path { get; init; }
    public required (string Name, Template Value)[] Headers { get; init; }
    public JsonBody? Body { get; init; }
    public TimeSpan? Think { get; init; }
    public required Capture[] Captures { get; init; }
    public required JsonCheck[] JsonChecks { get; init; }
    /// <summary>Accepted statuses, indexed by status code.</summary>
    public required bool[] Status { get; init; }
    public required string StatusText { get; init; }
    public bool ReadsBody => Captures.Length > 0 || JsonChecks.Length > 0;
}

internal sealed record FlowPlan(string Name, double Weight, StepPlan[] Steps, int Captures, bool UserPerVu);

/// <summary>A scenario file compiled against its data: flows, their cumulative weights, the endpoint names.</summary>
internal sealed class ScenarioPlan
{
    public required string Name { get; init; }
    public required FlowPlan[] Flows { get; init; }
    public required double[] CumulativeWeights { get; init; }
    public required IReadOnlyList<string> Endpoints { get; init; }
    public required StepPlan[] DataSetup { get; init; }
    public required int DataSetupCaptures { get; init; }
    public required bool UsesPeer { get; init; }
}

/// <summary>
/// A declarative scenario (YAML, or JSON which is YAML too): its settings are read at once, its
/// flows are compiled against the data's fields by <see cref="Compile"/>. See src/Tally.Load/README.md.
/// </summary>
public sealed class ScenarioFile
{
    /// <summary>The hook that ends a run with Tally's money audit (GET /api/account/admin/audit).</summary>
    public const string TallyAuditHook = "tally-audit";

    private static readonly string[] TopLevel = ["name", "description", "base_url", "slo", "variables", "data", "after_run", "flows"];
    private static readonly string[] StepFields = ["name", "request", "headers", "json", "think", "capture", "check"];
    private static readonly HashSet<string> Methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    private static readonly Dictionary<string, (CheckOperator Operator, string Symbol)> Orderings = new(StringComparer.Ordinal)
    {
        ["gt"] = (CheckOperator.Greater, ">"),
        ["gte"] = (CheckOperator.GreaterOrEqual, ">="),
        ["lt"] = (CheckOperator.Less, "<"),
        ["lte"] = (CheckOperator.LessOrEqual, "<="),
    };

    private readonly Yaml _yaml;
    private readonly Dictionary<string, YamlNode> _root;
    private readonly Dictionary<string, Value> _variables = new(StringComparer.Ordinal);

    private ScenarioFile(string fileName, string text)
    {
        _yaml = new Yaml(fileName);
        Text = text;
        var root = _yaml.Load(text);
        _root = _yaml.Mapping(root, "", TopLevel);
        Name = _root.TryGetValue("name", out var name) ? _yaml.Scalar(name, "name") : Path.GetFileNameWithoutExtension(fileName);
        if (_root.TryGetValue("base_url", out var baseUrl))
        {
            var text2 = _yaml.Scalar(baseUrl, "base_url");
            BaseUrl = Uri.TryCreate(text2, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                ? uri : throw _yaml.Error(baseUrl, "base_url", $"expected an absolute http(s) URL, got '{text2}'");
        }
        if (_root.TryGetValue("slo", out var slo))
        {
            var sloText = _yaml.Scalar(slo, "slo");
            try
            {
                Slo = Engine.Slo.Parse(sloText);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
            {
                throw _yaml.Error(slo, "slo", e.Message);
            }
        }
        if (_root.TryGetValue("variables", out var variables))
        {
            foreach (var (key, _, value) in _yaml.Entries(variables, "variables"))
            {
                _variables[key] = value is YamlScalarNode s
                    ? new Value(s.Value ?? "", Yaml.IsJsonLiteral(s))
                    : throw _yaml.Error(value, $"variables.{key}", "a variable is a single value");
            }
        }
        if (_root.TryGetValue("data", out var data))
        {
            var d = _yaml.Mapping(data, "data", "file", "setup");
            DataFile = d.TryGetValue("file", out var file) ? _yaml.Scalar(file, "data.file") : throw _yaml.Error(data, "data", "needs 'file' (a JSON array of objects or a CSV file with a header)");
        }
        if (_root.TryGetValue("after_run", out var after))
        {
            AfterRun = _yaml.Scalar(after, "after_run");
            if (AfterRun != TallyAuditHook)
            {
                throw _yaml.Error(after, "after_run", $"unknown hook '{AfterRun}' (known: {TallyAuditHook})");
            }
        }
        if (!_root.TryGetValue("flows", out var flows) || _yaml.Sequence(flows, "flows").Count == 0)
        {
            throw _yaml.Error(root, "flows", "a scenario needs at least one flow");
        }
    }

    public string FileName => _yaml.File;
    /// <summary>The file's text, as agents receive it.</summary>
    public string Text { get; }
    public string Name { get; }
    /// <summary>The target when the command line gives none.</summary>
    public Uri? BaseUrl { get; }
    /// <summary>The data file as written (relative paths resolve against the scenario file's folder).</summary>
    public string? DataFile { get; }
    public string? AfterRun { get; }
    /// <summary>The thresholds when the command line gives no --slo (run: thresholds; capacity and stress: the SLO searched for).</summary>
    public Engine.Slo? Slo { get; }

    public static ScenarioFile Parse(string text, string fileName) => new(fileName, text);

    public static ScenarioFile Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>The scenarios shipped with the tool (embedded resources named scenarios/NAME.yaml).</summary>
    public static IReadOnlyList<string> Shipped { get; } = [.. typeof(ScenarioFile).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith("scenarios/", StringComparison.Ordinal) && n.EndsWith(".yaml", StringComparison.Ordinal))
        .Select(n => n["scenarios/".Length..^".yaml".Length]).Order(StringComparer.Ordinal)];

    public static ScenarioFile LoadShipped(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"scenarios/{name}.yaml")
            ?? throw new ArgumentException($"unknown scenario '{name}' (shipped: {string.Join(", ", Shipped)}, ws; or --scenario-file FILE)");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd(), $"scenarios/{name}.yaml");
    }

    /// <summary>Compiles the data setup and the flows against the data file's fields.</summary>
    internal ScenarioPlan Compile(IReadOnlyList<string> columns)
    {
        var endpoints = new List<string>();
        var usesPeer = false;
        var setupCaptures = new List<string>();
        var setup = new List<StepPlan>();
        if (_root.TryGetValue("data", out var data) && _yaml.Mapping(data, "data").TryGetValue("setup", out var setupNode))
        {
            var scope = new Scope { Variables = _variables, Columns = columns, Captures = setupCaptures };
            var steps = _yaml.Sequence(setupNode, "data.setup");
            for (var i = 0; i < steps.Count; i++)
            {
                setup.Add(Step(steps[i], $"data.setup[{i}]", scope, setupCaptures, null));
            }
            if (scope.UsesPeer)
            {
                throw _yaml.Error(setupNode, "data.setup", "peer.FIELD is for flows; a setup step runs for one row");
            }
            foreach (var c in setupCaptures)
            {
                if (columns.Contains(c))
                {
                    throw _yaml.Error(setupNode, "data.setup", $"the capture '{c}' is already a field of the data");
                }
            }
        }
        var allColumns = columns.Concat(setupCaptures).ToList();
        var flows = new List<FlowPlan>();
        var flowNodes = _yaml.Sequence(_root["flows"], "flows");
        var flowNames = new HashSet<string>(StringComparer.Ordinal);
        for (var f = 0; f < flowNodes.Count; f++)
        {
            var field = $"flows[{f}]";
            var flow = _yaml.Mapping(flowNodes[f], field, "name", "weight", "user", "steps");
            var name = flow.TryGetValue("name", out var n) ? _yaml.Scalar(n, $"{field}.name") : $"flow {f + 1}";
            if (!flowNames.Add(name))
            {
                throw _yaml.Error(flowNodes[f], $"{field}.name", $"two flows are named '{name}'");
            }
            var weight = flow.TryGetValue("weight", out var w) ? _yaml.Number(w, $"{field}.weight", 0) : 1;
            var perVu = false;
            if (flow.TryGetValue("user", out var u))
            {
                perVu = _yaml.Scalar(u, $"{field}.user") switch
                {
                    "random" => false,
                    "per_vu" => true,
                    var other => throw _yaml.Error(u, $"{field}.user", $"expected random (a random row per iteration) or per_vu (row = user number mod rows), got '{other}'"),
                };
            }
            if (!flow.TryGetValue("steps", out var stepsNode) || _yaml.Sequence(stepsNode, $"{field}.steps").Count == 0)
            {
                throw _yaml.Error(flowNodes[f], $"{field}.steps", "a flow needs at least one step");
            }
            var captures = new List<string>();
            var scope = new Scope { Variables = _variables, Columns = allColumns, Captures = captures };
            var steps = _yaml.Sequence(stepsNode, $"{field}.steps");
            var plans = new StepPlan[steps.Count];
            for (var s = 0; s < steps.Count; s++)
            {
                plans[s] = Step(steps[s], $"{field}.steps[{s}]", scope, captures, endpoints);
            }
            usesPeer |= scope.UsesPeer;
            flows.Add(new FlowPlan(name, weight, plans, captures.Count, perVu));
        }
        var total = flows.Sum(x => x.Weight);
        if (total <= 0)
        {
            throw _yaml.Error(_root["flows"], "flows", "the weights sum to 0: no flow would ever run");
        }
        var cumulative = new double[flows.Count];
        var sum = 0.0;
        for (var i = 0; i < flows.Count; i++)
        {
            sum += flows[i].Weight / total;
            cumulative[i] = sum;
        }
        cumulative[^1] = 1;
        return new ScenarioPlan
        {
            Name = Name, Flows = [.. flows], CumulativeWeights = cumulative, Endpoints = endpoints,
            DataSetup = [.. setup], DataSetupCaptures = setupCaptures.Count, UsesPeer = usesPeer,
        };
    }

    private StepPlan Step(YamlNode node, string field, Scope scope, List<string> captures, List<string>? endpoints)
    {
        var step = _yaml.Mapping(node, field, StepFields);
        if (!step.TryGetValue("request", out var requestNode))
        {
            throw _yaml.Error(node, $"{field}.request", "a step needs 'request: METHOD /path'");
        }
        var request = _yaml.Scalar(requestNode, $"{field}.request").Trim();
        var space = request.IndexOf(' ', StringComparison.Ordinal);
        var method = space > 0 ? request[..space].ToUpperInvariant() : "";
        var path = space > 0 ? request[(space + 1)..].Trim() : "";
        if (!Methods.Contains(method) || !path.StartsWith('/'))
        {
            throw _yaml.Error(requestNode, $"{field}.request", $"expected 'METHOD /path' with METHOD one of {string.Join(", ", Methods)}, got '{request}'");
        }
        Exception Error(YamlNode at, string f, string m) => _yaml.Error(at, f, m);
        var pathTemplate = TemplateCompiler.Compile(path, scope, m => Error(requestNode, $"{field}.request", m), url: true);
        var name = step.TryGetValue("name", out var nameNode) ? _yaml.Scalar(nameNode, $"{field}.name") : $"{method} {path.Split('?')[0]}";
        var endpoint = -1;
        if (endpoints is not null)
        {
            endpoint = endpoints.IndexOf(name);
            if (endpoint < 0)
            {
                endpoints.Add(name);
                endpoint = endpoints.Count - 1;
            }
        }
        var headers = new List<(string, Template)>();
        if (step.TryGetValue("headers", out var headersNode))
        {
            foreach (var (key, _, value) in _yaml.Entries(headersNode, $"{field}.headers"))
            {
                var f = $"{field}.headers.{key}";
                headers.Add((key, TemplateCompiler.Compile(_yaml.Scalar(value, f), scope, m => Error(value, f, m))));
            }
        }
        var body = step.TryGetValue("json", out var jsonNode) ? JsonBody.Compile(_yaml, jsonNode, $"{field}.json", scope) : null;
        var think = step.TryGetValue("think", out var thinkNode) ? _yaml.Duration(thinkNode, $"{field}.think") : (TimeSpan?)null;
        var status = new bool[600];
        var statusText = "2xx";
        var checks = new List<JsonCheck>();
        if (step.TryGetValue("check", out var checkNode))
        {
            var check = _yaml.Mapping(checkNode, $"{field}.check", "status", "json");
            if (check.TryGetValue("status", out var statusNode))
            {
                statusText = Status(statusNode, $"{field}.check.status", status);
            }
            if (check.TryGetValue("json", out var jsonChecks))
            {
                foreach (var (key, keyNode, value) in _yaml.Entries(jsonChecks, $"{field}.check.json"))
                {
                    var f = $"{field}.check.json.{key}";
                    var jsonPath = JsonPath.Parse(key, m => Error(keyNode, f, m));
                    if (value is YamlMappingNode)
                    {
                        var tests = _yaml.Mapping(value, f, ["exists", .. Orderings.Keys]);
                        if (tests.Count == 0)
                        {
                            throw Error(value, f, $"expected {{ exists: true|false }} or a comparison with a number ({string.Join(", ", Orderings.Keys)})");
                        }
                        foreach (var (op, test) in tests)
                        {
                            var scalar = _yaml.Scalar(test, $"{f}.{op}");
                            if (op == "exists")
                            {
                                checks.Add(scalar is "true" or "false"
                                    ? new JsonCheck(jsonPath, null, scalar == "true", $"{key} {(scalar == "true" ? "exists" : "is absent")}")
                                    : throw Error(test, $"{f}.exists", "expected { exists: true } or { exists: false }"));
                                continue;
                            }
                            var bound = TemplateCompiler.Compile(scalar, scope, m => Error(test, $"{f}.{op}", m));
                            if (bound.IsConstant && !JsonCheck.IsNumber(bound.Literal.Text))
                            {
                                throw Error(test, $"{f}.{op}", $"'{scalar}' is not a number");
                            }
                            var (ordering, symbol) = Orderings[op];
                            checks.Add(new JsonCheck(jsonPath, bound, null, $"{key} {symbol} {scalar}", ordering));
                        }
                    }
                    else
                    {
                        var expected = _yaml.Scalar(value, f);
                        checks.Add(new JsonCheck(jsonPath, TemplateCompiler.Compile(expected, scope, m => Error(value, f, m)), null, $"{key} == {expected}"));
                    }
                }
            }
        }
        if (statusText == "2xx")
        {
            Array.Fill(status, true, 200, 100);
        }
        var captureList = new List<Capture>();
        if (step.TryGetValue("capture", out var captureNode))
        {
            foreach (var (key, _, value) in _yaml.Entries(captureNode, $"{field}.capture"))
            {
                var f = $"{field}.capture.{key}";
                if (_variables.ContainsKey(key) || key is "vu" or "iteration" || key.Contains('.', StringComparison.Ordinal) || key.Contains('(', StringComparison.Ordinal))
                {
                    throw Error(captureNode, f, $"'{key}' can't name a capture (it is a variable or a reserved name)");
                }
                var slot = captures.IndexOf(key);
                if (slot < 0)
                {
                    captures.Add(key);
                    slot = captures.Count - 1;
                }
                captureList.Add(new Capture(key, slot, JsonPath.Parse(_yaml.Scalar(value, f), m => Error(value, f, m))));
            }
        }
        return new StepPlan
        {
            Name = name, Endpoint = endpoint, Method = new HttpMethod(method), Path = pathTemplate, Headers = [.. headers], Body = body,
            Think = think, Captures = [.. captureList], JsonChecks = [.. checks], Status = status, StatusText = statusText,
        };
    }

    /// <summary>Reads <c>200</c>, <c>[200, 409]</c> or <c>2xx</c> into the accepted-status table.</summary>
    private string Status(YamlNode node, string field, bool[] accepted)
    {
        var items = node is YamlSequenceNode seq ? seq.Children : [node];
        var texts = new List<string>();
        foreach (var item in items)
        {
            var text = _yaml.Scalar(item, field);
            if (text.Length == 3 && text[0] is >= '1' and <= '5' && text[1..] is "xx")
            {
                Array.Fill(accepted, true, (text[0] - '0') * 100, 100);
            }
            else if (int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var code) && code is >= 100 and < 600)
            {
                accepted[code] = true;
            }
            else
            {
                throw _yaml.Error(item, field, $"expected a status such as 200 or 2xx, got '{text}'");
            }
            texts.Add(text);
        }
        return string.Join(",", texts);
    }

}
