using System.Globalization;
using ScottPlot;
using Tailor.Reports;

namespace Tailor.Search.SinglePath;

/// <summary>PNG plots of a Single-Path NAS search, read back from its search.csv.</summary>
public static class SearchPlots
{
    /// <summary>
    /// The paper's progress figure: table latency R (left axis, with the target) and CE (right axis)
    /// over the steps, with the phase boundary marked.
    /// </summary>
    public static void Progress(string csvPath, string pngPath, double? targetMs)
    {
        var (head, rows) = Read(csvPath);
        int iStep = head.IndexOf("step"), iCe = head.IndexOf("ce"), iR = head.IndexOf("r_table_ms"), iPhase = head.IndexOf("phase");
        double[] x = rows.Select(r => D(r[iStep])).ToArray();
        var plt = new Plot();
        var r = plt.Add.Scatter(x, rows.Select(r => D(r[iR])).ToArray());
        r.LegendText = "R (table latency of the decoded net, ms)"; r.MarkerSize = 0; r.LineWidth = 2; r.Color = Colors.C0;
        var ce = plt.Add.Scatter(x, rows.Select(r => D(r[iCe])).ToArray());
        ce.LegendText = "CE (train batch)"; ce.MarkerSize = 0; ce.LineWidth = 1; ce.Color = Colors.C1.WithAlpha(0.7);
        ce.Axes.YAxis = plt.Axes.Right;
        if (targetMs is double t)
        {
            var line = plt.Add.HorizontalLine(t);
            line.LegendText = $"target {t:F2} ms"; line.Color = Colors.Red; line.LinePattern = LinePattern.Dashed;
        }
        int p2 = rows.FindIndex(row => row[iPhase] == "2");
        if (p2 > 0)
        {
            var v = plt.Add.VerticalLine(x[p2]);
            v.LegendText = "phase 2 (latency loss on)"; v.Color = Colors.Gray; v.LinePattern = LinePattern.Dotted;
        }
        plt.Title("Single-Path NAS search");
        plt.XLabel("step");
        plt.Axes.Left.Label.Text = "R (ms)";
        plt.Axes.Right.Label.Text = "cross-entropy";
        plt.ShowLegend(Alignment.UpperRight);
        Plots.Save(plt, pngPath, new PlotOptions { Width = 1000, Height = 560 });
    }

    /// <summary>Per-layer decision map: layers (rows) by steps (columns), coloured by the op the layer decodes to.</summary>
    public static void Decisions(string csvPath, string pngPath, IReadOnlyList<string> opOrder)
    {
        var (head, rows) = Read(csvPath);
        var opCols = head.Select((h, i) => (h, i)).Where(t => t.h.EndsWith("_op")).Select(t => t.i).ToArray();
        int layers = opCols.Length, steps = rows.Count;
        var z = new double[layers, steps];
        for (int l = 0; l < layers; l++)
            for (int s = 0; s < steps; s++)
            {
                int k = opOrder.ToList().IndexOf(rows[s][opCols[l]]);
                z[l, s] = k < 0 ? double.NaN : k; // row 0 is drawn at the top
            }
        var plt = new Plot();
        var hm = plt.Add.Heatmap(z);
        hm.Colormap = new ScottPlot.Colormaps.Turbo();
        hm.ManualRange = new ScottPlot.Range(0, Math.Max(1, opOrder.Count - 1)); // fixed colours per op
        hm.Extent = new CoordinateRect(-0.5, steps - 0.5, -0.5, layers - 0.5);
        plt.Add.ColorBar(hm);
        plt.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, layers).Select(l => (double)(layers - 1 - l)).ToArray(),
            Enumerable.Range(0, layers).Select(l => $"L{l}").ToArray());
        plt.Title("decoded op per searchable layer: " + string.Join(", ", opOrder.Select((o, i) => $"{i}={o}")));
        plt.XLabel("step");
        Plots.Save(plt, pngPath, new PlotOptions { Width = 1100, Height = 160 + 28 * layers });
    }

    static (List<string> Head, List<string[]> Rows) Read(string path)
    {
        var lines = File.ReadAllLines(path);
        return (lines[0].Split(',').ToList(), lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToList());
    }

    static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);
}
