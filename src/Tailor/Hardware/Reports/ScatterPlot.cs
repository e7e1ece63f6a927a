using ScottPlot;
using Tailor.Util;

namespace Tailor.Hardware.Reports;

/// <summary>Predicted-vs-measured scatter plot (PNG) with the y = x line and the +-10% band.</summary>
public static class ScatterPlot
{
    public static void Save(string path, double[] measured, double[] predicted, string title, string xLabel, string yLabel,
        double[]? secondary = null, string primaryLegend = "calibrated", string secondaryLegend = "raw (fixed + sum)")
    {
        var plt = new Plot();
        double lo = measured.Concat(predicted).Concat(secondary ?? Array.Empty<double>()).Min();
        double hi = measured.Concat(predicted).Concat(secondary ?? Array.Empty<double>()).Max();
        lo *= 0.95; hi *= 1.05;
        var ideal = plt.Add.Line(lo, lo, hi, hi);
        ideal.Color = Colors.Black; ideal.LegendText = "y = x";
        foreach (var f in new[] { 0.9, 1.1 })
        {
            var band = plt.Add.Line(lo, lo * f, hi, hi * f);
            band.Color = Colors.Gray; band.LinePattern = LinePattern.Dashed;
            band.LegendText = f < 1 ? "+-10%" : "";
        }
        if (secondary != null)
        {
            var s2 = plt.Add.ScatterPoints(measured, secondary);
            s2.Color = Colors.Orange; s2.MarkerSize = 4; s2.LegendText = secondaryLegend;
        }
        var s = plt.Add.ScatterPoints(measured, predicted);
        s.Color = Colors.Blue; s.MarkerSize = 5; s.LegendText = primaryLegend;
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        plt.ShowLegend(Alignment.UpperLeft);
        var bytes = plt.GetImageBytes(900, 700, ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, bytes);
    }
}
