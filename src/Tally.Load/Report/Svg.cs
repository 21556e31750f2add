using System.Net;

namespace Tally.Load.Report;

public sealed record Series(string Name, string Color, IReadOnlyList<(double X, double Y)> Points, bool Dots = false);

/// <summary>Inline SVG line charts: no script, no CDN, so the report renders offline.</summary>
public static class Svg
{
    private const int W = 900, H = 320, L = 70, R = 20, T = 36, B = 48;

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    public static string LineChart(string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        Func<double, string>? xTick = null, IReadOnlyList<double>? xTicks = null, (double X, string Label)? marker = null,
        IReadOnlyList<(double X, string Label)>? boundaries = null)
    {
        var all = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{WebUtility.HtmlEncode(title)}\">");
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fff\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{WebUtility.HtmlEncode(title)}</text>");
        if (all.Count == 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{W / 2}\" y=\"{H / 2}\" text-anchor=\"middle\" fill=\"#888\">no data</text></svg>");
            return sb.ToString();
        }
        double x0 = all.Min(p => p.X), x1 = all.Max(p => p.X), y1 = Nice(all.Max(p => p.Y));
        if (x1 <= x0)
        {
            x1 = x0 + 1;
        }
        double Px(double x) => L + (x - x0) / (x1 - x0) * (W - L - R);
        double Py(double y) => H - B - y / y1 * (H - T - B);
        // Axes and grid.
        for (var i = 0; i <= 4; i++)
        {
            var y = y1 * i / 4;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{L}\" x2=\"{W - R}\" y1=\"{F(Py(y))}\" y2=\"{F(Py(y))}\" stroke=\"#e3e3e3\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L - 6}\" y=\"{F(Py(y) + 4)}\" font-size=\"11\" text-anchor=\"end\">{F(y)}</text>");
        }
        var ticks = xTicks ?? [.. Enumerable.Range(0, 6).Select(i => x0 + (x1 - x0) * i / 5)];
        foreach (var x in ticks.Where(x => x >= x0 && x <= x1))
        {
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Px(x))}\" y=\"{H - B + 16}\" font-size=\"11\" text-anchor=\"middle\">{WebUtility.HtmlEncode(xTick?.Invoke(x) ?? F(x))}</text>");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{L}\" x2=\"{W - R}\" y1=\"{H - B}\" y2=\"{H - B}\" stroke=\"#333\"/><line x1=\"{L}\" x2=\"{L}\" y1=\"{T}\" y2=\"{H - B}\" stroke=\"#333\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{(L + W - R) / 2}\" y=\"{H - 8}\" font-size=\"12\" text-anchor=\"middle\">{WebUtility.HtmlEncode(xLabel)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{(T + H - B) / 2}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {(T + H - B) / 2})\">{WebUtility.HtmlEncode(yLabel)}</text>");
        foreach (var (bx, label) in boundaries ?? [])
        {
            if (bx < x0 || bx > x1)
            {
                continue;
            }
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"boundary\" x1=\"{F(Px(bx))}\" x2=\"{F(Px(bx))}\" y1=\"{T}\" y2=\"{H - B}\" stroke=\"#888\" stroke-dasharray=\"3 3\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Px(bx) + 4)}\" y=\"{T + 12}\" font-size=\"11\" fill=\"#555\">{WebUtility.HtmlEncode(label)}</text>");
        }
        if (marker is { } m)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"knee\" x1=\"{F(Px(m.X))}\" x2=\"{F(Px(m.X))}\" y1=\"{T}\" y2=\"{H - B}\" stroke=\"#d62728\" stroke-dasharray=\"6 4\" stroke-width=\"2\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Px(m.X) + 6)}\" y=\"{H - B - 8}\" font-size=\"12\" fill=\"#d62728\">{WebUtility.HtmlEncode(m.Label)}</text>");
        }
        var legendX = W - R - 150;
        var legendY = T + 4;
        foreach (var s in series)
        {
            // Always drawn in x order, whatever order the points came in.
            var pts = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).OrderBy(p => p.X).ToList();
            if (pts.Count > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"2\" points=\"{string.Join(' ', pts.Select(p => F(Px(p.X)) + "," + F(Py(p.Y))))}\"/>");
                if (s.Dots)
                {
                    foreach (var p in pts)
                    {
                        sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(Px(p.X))}\" cy=\"{F(Py(p.Y))}\" r=\"4\" fill=\"{s.Color}\"/>");
                    }
                }
            }
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{legendX}\" y=\"{legendY}\" width=\"12\" height=\"12\" fill=\"{s.Color}\"/><text x=\"{legendX + 18}\" y=\"{legendY + 11}\" font-size=\"12\">{WebUtility.HtmlEncode(s.Name)}</text>");
            legendY += 16;
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static double Nice(double max)
    {
        if (max <= 0 || !double.IsFinite(max))
        {
            return 1;
        }
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(max)));
        foreach (var f in new[] { 1, 2, 2.5, 5, 10 })
        {
            if (f * magnitude >= max)
            {
                return f * magnitude;
            }
        }
        return 10 * magnitude;
    }
}
