using ScottPlot;
using Tailor.Util;

namespace Tailor.Reports;

/// <summary>One series of a plot. NaN points are left out. YLow/YHigh draw a shaded band (e.g. mean +- std).</summary>
public sealed record PlotSeries(string Label, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    public IReadOnlyList<double>? YLow { get; init; }
    public IReadOnlyList<double>? YHigh { get; init; }
    public bool Lines { get; init; } = true;
    public bool Markers { get; init; }
    /// <summary>Connect points as a staircase (horizontal then vertical), e.g. a Pareto front.</summary>
    public bool Step { get; init; }
    /// <summary>"#rrggbb"; default: the next colour of the Category10 palette.</summary>
    public string? Color { get; init; }
    public float LineWidth { get; init; } = 2;
    public float MarkerSize { get; init; } = 5;
}

public sealed record PlotOptions
{
    public string Title { get; init; } = "";
    public string XLabel { get; init; } = "";
    public string YLabel { get; init; } = "";
    public int Width { get; init; } = 900;
    public int Height { get; init; } = 600;
    public double? XMin { get; init; }
    public double? XMax { get; init; }
    public double? YMin { get; init; }
    public double? YMax { get; init; }
    /// <summary>upper-left, upper-right, lower-left, lower-right (default), or none.</summary>
    public string Legend { get; init; } = "lower-right";
}

/// <summary>Small reusable ScottPlot helpers: line plots with several series, scatter plots (optionally with lines), written as PNG atomically.</summary>
public static class Plots
{
    /// <summary>Line plot: each series a line (no markers unless the series asks).</summary>
    public static void Lines(string path, IEnumerable<PlotSeries> series, PlotOptions? options = null) =>
        Save(Build(series, options ?? new PlotOptions(), defaultMarkers: false), path, options ?? new PlotOptions());

    /// <summary>Scatter plot: markers; series with Lines = true are also joined by lines.</summary>
    public static void Scatter(string path, IEnumerable<PlotSeries> series, PlotOptions? options = null) =>
        Save(Build(series, options ?? new PlotOptions(), defaultMarkers: true), path, options ?? new PlotOptions());

    public static Plot Build(IEnumerable<PlotSeries> series, PlotOptions o, bool defaultMarkers)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int k = 0;
        bool anyLabel = false;
        foreach (var s in series)
        {
            var color = s.Color != null ? Color.FromHex(s.Color) : palette.GetColor(k);
            k++;
            int n = Math.Min(s.X.Count, s.Y.Count);
            var keep = Enumerable.Range(0, n).Where(i => double.IsFinite(s.X[i]) && double.IsFinite(s.Y[i])).ToArray();
            if (keep.Length == 0) continue;
            double[] xs = keep.Select(i => s.X[i]).ToArray(), ys = keep.Select(i => s.Y[i]).ToArray();
            if (s.YLow != null && s.YHigh != null)
            {
                var band = keep.Where(i => i < s.YLow.Count && i < s.YHigh.Count && double.IsFinite(s.YLow[i]) && double.IsFinite(s.YHigh[i])).ToArray();
                if (band.Length > 1)
                {
                    var fill = plt.Add.FillY(band.Select(i => s.X[i]).ToArray(), band.Select(i => s.YLow[i]).ToArray(), band.Select(i => s.YHigh[i]).ToArray());
                    fill.FillColor = color.WithAlpha(0.15);
                    fill.LineWidth = 0;
                }
            }
            var sc = plt.Add.Scatter(xs, ys);
            sc.Color = color;
            bool markers = s.Markers || defaultMarkers || !s.Lines;
            sc.MarkerSize = markers ? s.MarkerSize : 0;
            sc.LineWidth = s.Lines ? s.LineWidth : 0;
            if (s.Step) sc.ConnectStyle = ConnectStyle.StepHorizontal;
            if (!string.IsNullOrEmpty(s.Label)) { sc.LegendText = s.Label; anyLabel = true; }
        }
        if (o.Title.Length > 0) plt.Title(o.Title);
        if (o.XLabel.Length > 0) plt.XLabel(o.XLabel);
        if (o.YLabel.Length > 0) plt.YLabel(o.YLabel);
        if (anyLabel && o.Legend != "none")
            plt.ShowLegend(o.Legend switch
            {
                "upper-left" => Alignment.UpperLeft,
                "upper-right" => Alignment.UpperRight,
                "lower-left" => Alignment.LowerLeft,
                _ => Alignment.LowerRight,
            });
        if (o.XMin != null || o.XMax != null || o.YMin != null || o.YMax != null)
        {
            plt.Axes.AutoScale();
            var lim = plt.Axes.GetLimits();
            plt.Axes.SetLimits(o.XMin ?? lim.Left, o.XMax ?? lim.Right, o.YMin ?? lim.Bottom, o.YMax ?? lim.Top);
        }
        return plt;
    }

    /// <summary>Renders to PNG and writes it atomically (temp file + rename).</summary>
    public static void Save(Plot plt, string path, PlotOptions o)
    {
        byte[] png = plt.GetImageBytes(o.Width, o.Height, ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, png);
    }
}
