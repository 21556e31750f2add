using HdrHistogram;
using HdrHistogram.Utilities;

namespace Tally.Load.Engine;

/// <summary>
/// The measuring window cut into one-second slices, per endpoint: what <c>compare</c> resamples to
/// tell a real change from run-to-run noise. <c>t</c> counts from the start of the window.
/// </summary>
public sealed record PerSecond(IReadOnlyList<EndpointSeconds> Endpoints);

public sealed record EndpointSeconds(string Name, IReadOnlyList<SecondSlice> Seconds);

/// <param name="T">Seconds from the start of the measuring window.</param>
/// <param name="Length">The slice's length in seconds: 1, less for the last one of a window that ends mid-second.</param>
/// <param name="Completed">Requests of this endpoint that completed in the slice (the throughput).</param>
/// <param name="Requests">Requests (meant to be) sent in the slice, which <paramref name="Histogram"/> holds.</param>
/// <param name="Histogram">Their latencies in microseconds: an HdrHistogram, compressed and base64-encoded (the library's V2 encoding).</param>
public sealed record SecondSlice(double T, double Length, long Completed, long Requests, string Histogram);

/// <summary>HdrHistogram's compressed encoding as a base64 string, and back.</summary>
public static class HistogramText
{
    public static string Encode(HistogramBase histogram)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        var buffer = ByteBuffer.Allocate(histogram.GetNeededByteBufferCapacity());
        var bytes = new byte[histogram.EncodeIntoCompressedByteBuffer(buffer)];
        buffer.Position = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = buffer.Get();
        }
        return Convert.ToBase64String(bytes);
    }

    public static HistogramBase Decode(string text)
    {
        var buffer = ByteBuffer.Allocate(Convert.FromBase64String(text));
        return HistogramEncoding.DecodeFromCompressedByteBuffer(buffer, 0);
    }
}
