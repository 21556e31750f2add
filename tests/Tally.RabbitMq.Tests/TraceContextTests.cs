namespace Tally.RabbitMq.Tests;

/// <summary>W3C trace context crosses the queue: the worker's span is a child of the api's publish span.</summary>
[Collection(ServicesCollection.Name)]
public sealed class TraceContextTests(PrivateServices services)
{
    [Fact]
    public async Task One_trace_spans_the_http_request_the_queue_and_the_worker()
    {
        var (app, alice, bob) = await services.StartWithTwoUsersAsync(new RabbitTallyFactory(services));

        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Tally.Bus" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);

        using var client = app.CreateClient(alice);
        var note = "trace-" + Guid.NewGuid().ToString("N")[..8];
        await (await client.PostAsJsonAsync("/api/transfer/transfer", new { to_account_number = bob.AccountNumber, amount = 5, note })).AssertJsonAsync();

        var until = DateTime.UtcNow.AddSeconds(5);
        Activity? handle = null, publish = null;
        while (DateTime.UtcNow < until && (handle is null || publish is null))
        {
            publish = spans.FirstOrDefault(a => a.OperationName == "publish MakeTransfer");
            handle = publish is null ? null : spans.FirstOrDefault(a => a.OperationName == "handle MakeTransfer" && a.TraceId == publish.TraceId);
            await Task.Delay(20);
        }
        Assert.NotNull(publish);
        Assert.NotNull(handle);
        Assert.Equal(ActivityKind.Producer, publish.Kind);
        Assert.Equal(ActivityKind.Consumer, handle.Kind);
        Assert.Equal(publish.SpanId, handle.ParentSpanId);
        // The publish span is itself inside the HTTP request's span.
        Assert.Contains(spans, a => a.Source.Name == "Microsoft.AspNetCore" && a.TraceId == publish.TraceId && a.SpanId == publish.ParentSpanId);
    }
}
