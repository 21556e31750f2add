using System.Runtime.InteropServices;

namespace Tally.Load.Engine;

/// <summary>
/// Sleeps for less than a millisecond. <see cref="Thread.Sleep(int)"/> and timers count whole
/// milliseconds (and overshoot by about one more), which an arrival clock can't use: at 1,500
/// arrivals a second one is due every 0.67 ms. On Linux this is nanosleep(2) through usleep(3),
/// which the kernel's high-resolution timers end within about 50 µs (the default timer slack).
/// </summary>
internal static partial class PreciseSleep
{
    public static void For(double seconds)
    {
        if (seconds <= 0)
        {
            return;
        }
        if (OperatingSystem.IsLinux())
        {
            _ = usleep((uint)Math.Min(seconds * 1e6, 1e6));
            return;
        }
        Thread.Sleep(TimeSpan.FromMilliseconds(Math.Max(1, seconds * 1e3)));
    }

    [LibraryImport("libc", SetLastError = false)]
    private static partial int usleep(uint microseconds);
}
