using System.Buffers;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace Tally.Load.ScenarioFiles;

/// <summary>
/// A compiled scenario file as the engine runs it. Each iteration is one request: the next step of
/// the virtual user's current flow. A flow starts with a flow drawn by weight, a user row and a
/// peer row; a step that fails (status, check, capture) ends its flow, and the next iteration
/// starts a new one. The hot path walks precompiled templates: no parsing or lookup by name.
/// </summary>
public sealed class FileScenario : IScenario
{
    private readonly ScenarioPlan _plan;
    private readonly Uri _base;
    private readonly List<Value[]> _rows;
    private readonly Dictionary<StepPlan, Uri> _constantUris = [];
    private readonly int _captures;
    private long _sequence;

    internal FileScenario(ScenarioPlan plan, Uri baseUri, DataFile data)
    {
        _plan = plan;
        _base = baseUri;
        _rows = data.Rows;
        _captures = plan.Flows.Max(f => f.Captures);
        foreach (var step in plan.Flows.SelectMany(f => f.Steps).Concat(plan.DataSetup))
        {
            if (step.Path.IsConstant)
            {
                _constantUris[step] = new Uri(baseUri, step.Path.Literal.Text);
            }
        }
    }

    public string Name => _plan.Name;
    public IReadOnlyList<string> Endpoints => _plan.Endpoints;

    /// <summary>Reads the data, runs its setup steps once per row (not measured), and compiles the flows against its fields.</summary>
    public static async Task<FileScenario> CreateAsync(ScenarioFile file, Uri baseUri, string? dataPath, HttpClient client, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(file);
        var data = dataPath is null ? DataFile.Empty : DataFile.Load(dataPath);
        var plan = file.Compile(data.Columns);
        var needed = plan.UsesPeer ? 2 : dataPath is null ? 0 : 1;
        if (data.Rows.Count < needed)
        {
            throw new ArgumentException($"{dataPath ?? "the data file"} holds {data.Rows.Count} row(s), and {file.Name} needs at least {needed}: run `tally-load seed` first, or give --users-file");
        }
        if (plan.DataSetup.Length > 0)
        {
            var setup = new FileScenario(plan, baseUri, data);
            var values = await setup.RunDataSetupAsync(client, 20, ct).ConfigureAwait(false);
            data = data.WithColumns([.. plan.DataSetup.SelectMany(s => s.Captures).Select(c => c.Name).Distinct()], values);
        }
        return new FileScenario(plan, baseUri, data);
    }

    private async Task<Value[][]> RunDataSetupAsync(HttpClient client, int workers, CancellationToken ct)
    {
        var results = new Value[_rows.Count][];
        await Parallel.ForAsync(0, _rows.Count, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = ct }, async (i, token) =>
        {
            var state = new VuState(this, i, new Random(i), new Value[_plan.DataSetupCaptures]) { User = _rows[i] };
            foreach (var step in _plan.DataSetup)
            {
                for (var attempt = 1; ; attempt++)
                {
                    var outcome = await SendAsync(client, step, 0, state, token).ConfigureAwait(false);
                    if (outcome.Ok)
                    {
                        break;
                    }
                    // A polite client: a refusal that asks to come back (503/429 with Retry-After) is tried again.
                    if (!outcome.Refused || attempt >= 20)
                    {
                        throw new HttpRequestException($"data setup step '{step.Name}' for row {i + 1}: {outcome.ErrorKind}");
                    }
                    await Task.Delay(TimeSpan.FromMilliseconds(500 + Random.Shared.Next(500)), token).ConfigureAwait(false);
                }
            }
            results[i] = state.Captures;
        }).ConfigureAwait(false);
        return results;
    }

    public ValueTask<Outcome> ExecuteAsync(VuContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.State is not VuState state)
        {
            context.State = state = new VuState(this, context.Id, context.Random, new Value[_captures]);
        }
        if (state.Flow is null)
        {
            Begin(state, context);
        }
        var step = state.Flow!.Steps[state.Step];
        context.ThinkAfter = step.Think;
        return SendAsync(context.Client, step, step.Endpoint, state, cancellationToken, inFlow: true);
    }

    /// <summary>Moves the user's flow on: to its next step, or, after its last step or a failure, to a new flow.</summary>
    private static Outcome Advance(VuState state, bool inFlow, Outcome outcome)
    {
        if (inFlow && (!outcome.Ok || ++state.Step == state.Flow!.Steps.Length))
        {
            state.Flow = null;
            state.Step = 0;
        }
        return outcome;
    }

    private void Begin(VuState state, VuContext context)
    {
        var random = context.Random;
        var pick = random.NextDouble();
        var weights = _plan.CumulativeWeights;
        var f = 0;
        while (f < weights.Length - 1 && pick >= weights[f])
        {
            f++;
        }
        var flow = _plan.Flows[f];
        state.Flow = flow;
        state.Step = 0;
        state.Iteration++;
        if (_rows.Count == 0)
        {
            return;
        }
        var user = flow.UserPerVu ? context.Id % _rows.Count : random.Next(_rows.Count);
        state.User = _rows[user];
        if (_plan.UsesPeer)
        {
            var peer = random.Next(_rows.Count - 1);
            state.Peer = _rows[peer >= user ? peer + 1 : peer];
        }
    }

    private async ValueTask<Outcome> SendAsync(HttpClient client, StepPlan step, int endpoint, VuState state, CancellationToken ct, bool inFlow = false)
    {
        var uri = _constantUris.TryGetValue(step, out var constant) ? constant : new Uri(_base, step.Path.Render(state));
        using var request = new HttpRequestMessage(step.Method, uri);
        if (step.Body is { } body)
        {
            request.Content = state.Json(body);
        }
        foreach (var (name, value) in step.Headers)
        {
            var text = value.Render(state);
            if (!request.Headers.TryAddWithoutValidation(name, text))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.Remove(name);
                request.Content.Headers.TryAddWithoutValidation(name, text);
            }
        }
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status >= step.Status.Length || !step.Status[status])
            {
                var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                var kind = status is >= 200 and < 300 ? $"{status} (check status {step.StatusText})" : $"{status} {Http.ErrorCode(text)}".TrimEnd();
                return Advance(state, inFlow, Outcome.Failed(endpoint, status, kind) with { RetryAfter = response.Headers.RetryAfter is not null });
            }
            if (!step.ReadsBody)
            {
                await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                await stream.CopyToAsync(Stream.Null, ct).ConfigureAwait(false);
                return Advance(state, inFlow, Outcome.Success(endpoint, status));
            }
            var bytes = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            return Advance(state, inFlow, Judge(step, endpoint, status, bytes, state));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Advance(state, inFlow, Outcome.Failed(endpoint, 0, "timeout"));
        }
        catch (HttpRequestException e)
        {
            var socket = e.InnerException as SocketException ?? e.InnerException?.InnerException as SocketException;
            return Advance(state, inFlow, Outcome.Failed(endpoint, 0, socket is null ? $"http {e.HttpRequestError}" : $"socket {socket.SocketErrorCode}"));
        }
    }

    /// <summary>Captures, then checks, on a JSON answer; the first that fails names the error kind.</summary>
    private static Outcome Judge(StepPlan step, int endpoint, int status, byte[] body, VuState state)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return Outcome.Failed(endpoint, status, $"{status} (answer is not JSON)");
        }
        using (doc)
        {
            var root = doc.RootElement;
            foreach (var capture in step.Captures)
            {
                if (!capture.Path.TryGet(root, out var value))
                {
                    return Outcome.Failed(endpoint, status, $"capture {capture.Name}: {capture.Path.Source} not found");
                }
                state.Captures[capture.Slot] = Value.FromJson(value);
            }
            foreach (var check in step.JsonChecks)
            {
                var found = check.Path.TryGet(root, out var value);
                var pass = check.Exists is { } exists
                    ? found == exists
                    : found && check.Holds(value, check.Expected!.Render(state));
                if (!pass)
                {
                    return Outcome.Failed(endpoint, status, $"check failed: {check.Text}");
                }
            }
        }
        return Outcome.Success(endpoint, status);
    }

    /// <summary>One virtual user's flow position, rows, captures and reusable buffers.</summary>
    private sealed class VuState(FileScenario owner, int vu, Random random, Value[] captures) : ITemplateContext
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(256);
        private Utf8JsonWriter? _writer;

        public FlowPlan? Flow { get; set; }
        public int Step { get; set; }
        public Value[] User { get; set; } = [];
        public Value[] Peer { get; set; } = [];
        public Value[] Captures { get; } = captures;
        public int Vu { get; } = vu;
        public long Iteration { get; set; }
        public Random Random { get; } = random;
        public StringBuilder Builder { get; } = new(128);

        public long NextSequence() => Interlocked.Increment(ref owner._sequence);

        public ByteArrayContent Json(JsonBody body)
        {
            _buffer.ResetWrittenCount();
            if (_writer is null)
            {
                _writer = new Utf8JsonWriter(_buffer);
            }
            else
            {
                _writer.Reset(_buffer);
            }
            body.Write(_writer, this);
            _writer.Flush();
            var content = new ByteArrayContent(_buffer.WrittenSpan.ToArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            return content;
        }
    }
}
