using Microsoft.AspNetCore.Http.Features;

namespace Tally.Server.Http;

/// <summary>
/// Caps request bodies in the app itself, so the limit holds behind any server (Kestrel, a test host, a proxy):
/// a declared length over the cap is refused before reading, and a chunked body is cut off as it streams.
/// </summary>
public sealed class BodySizeLimitMiddleware(RequestDelegate next, IOptions<LimitsOptions> options)
{
    private readonly long _max = options.Value.MaxBodyBytes;

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Request.ContentLength > _max)
        {
            throw new BadHttpRequestException("The request body is too large.", StatusCodes.Status413PayloadTooLarge);
        }
        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
        {
            feature.MaxRequestBodySize = _max;
        }
        if (context.Request.ContentLength is null && context.Request.Body.CanRead)
        {
            context.Request.Body = new LimitedStream(context.Request.Body, _max);
        }
        return next(context);
    }

    private sealed class LimitedStream(Stream inner, long max) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(int read)
        {
            _read += read;
            if (_read > max)
            {
                throw new BadHttpRequestException("The request body is too large.", StatusCodes.Status413PayloadTooLarge);
            }
            return read;
        }

        public override void Flush() => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
