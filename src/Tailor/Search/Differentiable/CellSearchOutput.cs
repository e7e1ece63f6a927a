using System.Globalization;
using System.Text;
using System.Text.Json;
using Tailor.Models.Cells;
using Tailor.Util;

namespace Tailor.Search.Differentiable;

/// <summary>
/// The files of a search's output folder: genotype.txt, network.json (tailor-cellnet), summary.json,
/// epochs.csv (the derived cell and its table scores per epoch), alpha_history.csv (softmax weights
/// after every architecture step), plots (alpha_*.png, accuracy.png, skip.png) and checkpoint/.
/// </summary>
public static class CellSearchOutput
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    static string F(double? v, string fmt = "0.####") => v.HasValue ? v.Value.ToString(fmt, CultureInfo.InvariantCulture) : "";

    public static void WriteProgress(string dir, CellSearch s)
    {
        WriteAlphaCsv(Path.Combine(dir, "alpha_history.csv"), s);
        WriteEpochsCsv(Path.Combine(dir, "epochs.csv"), s.State.Epochs);
    }

    public static void WriteAll(string dir, CellSearch s, CellSearchResult r)
    {
        WriteProgress(dir, s);
        AtomicFile.WriteAllText(Path.Combine(dir, "genotype.txt"), r.Genotype + "\n");
        AtomicFile.WriteAllText(Path.Combine(dir, "network.json"), r.NetworkJson);
        AtomicFile.WriteAllText(Path.Combine(dir, "summary.json"), JsonSerializer.Serialize(r, Json) + "\n");
        CellPlots.WriteAll(dir, s, r);
    }

    public static void WriteEpochsCsv(string path, IReadOnlyList<EpochRecord> epochs)
    {
        var sb = new StringBuilder("epoch,phase,genotype,table_valid,table_test,table_latency_ms,predicted_latency_ms,train_loss,train_acc,val_loss,val_acc,lr,tau,skip_weight,expected_depth,depth_loss,seconds\n");
        foreach (var e in epochs)
            sb.Append(e.Epoch).Append(',').Append(e.Phase).Append(",\"").Append((e.Genotype ?? "").Replace("\"", "\"\"")).Append("\",")
              .Append(F(e.TableValid)).Append(',').Append(F(e.TableTest)).Append(',').Append(F(e.TableLatency)).Append(',').Append(F(e.PredictedLatency)).Append(',')
              .Append(F(e.TrainLoss)).Append(',').Append(F(e.TrainAcc)).Append(',').Append(F(e.ValLoss)).Append(',').Append(F(e.ValAcc)).Append(',')
              .Append(F(e.Lr, "0.######")).Append(',').Append(F(e.Tau)).Append(',').Append(F(e.SkipWeight)).Append(',')
              .Append(e.ExpectedDepth == null ? "" : string.Join(" ", e.ExpectedDepth.Select(x => F(x)))).Append(',').Append(F(e.DepthLoss)).Append(',')
              .Append(F(e.Seconds, "0.##")).Append('\n');
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    public static void WriteAlphaCsv(string path, CellSearch s)
    {
        var names = s.Net.OpNames;
        var sb = new StringBuilder("step,epoch,group,skip_mean");
        int edges = s.Net.EdgesOf(0);
        for (int e = 0; e < edges; e++) foreach (var n in names) sb.Append($",e{e}:{n}");
        sb.Append('\n');
        int ops = names.Count;
        foreach (var row in s.State.Alpha)
        {
            double skip = 0;
            for (int e = 0; e < edges; e++) skip += row.W[e * ops + s.Net.SkipOp];
            sb.Append(row.Step).Append(',').Append(row.Epoch).Append(',').Append(s.Arch.Names[row.Group]).Append(',').Append(F(skip / edges, "0.######"));
            foreach (var w in row.W) sb.Append(',').Append(w.ToString("0.######", CultureInfo.InvariantCulture));
            sb.Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }
}

/// <summary>PNG plots of a search (ScottPlot).</summary>
public static class CellPlots
{
    public static void WriteAll(string dir, CellSearch s, CellSearchResult r)
    {
        var st = s.State;
        if (st.Alpha.Count > 0)
        {
            for (int g = 0; g < s.Arch.Alphas.Length; g++) AlphaPanels(Path.Combine(dir, $"{s.Arch.Names[g]}.png"), s, g);
            Skip(Path.Combine(dir, "skip.png"), s);
        }
        Accuracy(Path.Combine(dir, "accuracy.png"), s, r);
    }

    static void Save(ScottPlot.Plot p, string path, int w, int h) =>
        AtomicFile.WriteAllBytes(path, p.GetImageBytes(w, h, ScottPlot.ImageFormat.Png));

    /// <summary>One panel per edge: the softmax weight of each op over architecture steps.</summary>
    public static void AlphaPanels(string path, CellSearch s, int group)
    {
        var names = s.Net.OpNames;
        int edges = s.Net.EdgesOf(group), ops = names.Count;
        var rows = s.State.Alpha.Where(a => a.Group == group).ToList();
        double[] xs = rows.Select(a => (double)a.Step).ToArray();
        int cols = edges <= 6 ? 3 : 4, nrows = (edges + cols - 1) / cols;
        const int pw = 420, ph = 320;
        var panels = new List<byte[]>();
        var colors = new ScottPlot.Color[] { ScottPlot.Colors.Gray, ScottPlot.Colors.Red, ScottPlot.Colors.Blue, ScottPlot.Colors.Green, ScottPlot.Colors.Orange, ScottPlot.Colors.Purple, ScottPlot.Colors.Brown, ScottPlot.Colors.Teal };
        for (int e = 0; e < edges; e++)
        {
            var p = new ScottPlot.Plot();
            for (int o = 0; o < ops; o++)
            {
                var ys = rows.Select(a => (double)a.W[e * ops + o]).ToArray();
                var sc = p.Add.ScatterLine(xs, ys);
                sc.Color = colors[o % colors.Length];
                sc.LineWidth = 1.5f;
                if (e == 0) sc.LegendText = names[o];
            }
            string title = s.Net.Space == "nb201" ? $"edge {Nb201Cell.EdgeNodes[e].To}<-{Nb201Cell.EdgeNodes[e].From}" : EdgeTitle(e);
            p.Title(title);
            p.XLabel("architecture step");
            p.YLabel("softmax weight");
            if (e == 0) p.ShowLegend(ScottPlot.Alignment.UpperLeft);
            panels.Add(p.GetImageBytes(pw, ph, ScottPlot.ImageFormat.Png));
        }
        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(cols * pw, nrows * ph));
        surface.Canvas.Clear(SkiaSharp.SKColors.White);
        for (int e = 0; e < panels.Count; e++)
        {
            using var bmp = SkiaSharp.SKBitmap.Decode(panels[e]);
            surface.Canvas.DrawBitmap(bmp, e % cols * pw, e / cols * ph);
        }
        using var img = surface.Snapshot();
        using var data = img.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(path, data.ToArray());
    }

    static string EdgeTitle(int e) { var (st, j) = DartsCell.EdgeOf(e); return $"node {st + 2} <- {j}"; }

    /// <summary>DARTS's skip drift: the mean softmax weight of skip_connect over the edges, per architecture step.</summary>
    public static void Skip(string path, CellSearch s)
    {
        var p = new ScottPlot.Plot();
        int ops = s.Net.OpNames.Count;
        for (int g = 0; g < s.Arch.Alphas.Length; g++)
        {
            int edges = s.Net.EdgesOf(g);
            var rows = s.State.Alpha.Where(a => a.Group == g).ToList();
            var xs = rows.Select(a => (double)a.Step).ToArray();
            var ys = rows.Select(a => Enumerable.Range(0, edges).Average(e => (double)a.W[e * ops + s.Net.SkipOp])).ToArray();
            var sc = p.Add.ScatterLine(xs, ys);
            sc.LegendText = s.Arch.Names[g];
        }
        p.Add.HorizontalLine(1.0 / ops, 1, ScottPlot.Colors.Gray, ScottPlot.LinePattern.Dashed);
        p.Title($"{s.Options.Method}: mean softmax weight of skip_connect (dashed: uniform 1/{ops})");
        p.XLabel("architecture step");
        p.YLabel("mean skip weight");
        p.ShowLegend();
        Save(p, path, 900, 500);
    }

    /// <summary>The derived cell's table accuracy per epoch, with the random-architecture mean and median.</summary>
    public static void Accuracy(string path, CellSearch s, CellSearchResult r)
    {
        var p = new ScottPlot.Plot();
        var ep = s.State.Epochs.Where(e => e.TableTest.HasValue).ToList();
        if (ep.Count > 0)
        {
            var xs = ep.Select(e => (double)e.Epoch).ToArray();
            var v = p.Add.Scatter(xs, ep.Select(e => e.TableValid!.Value).ToArray()); v.LegendText = "table valid (200 ep)";
            var t = p.Add.Scatter(xs, ep.Select(e => e.TableTest!.Value).ToArray()); t.LegendText = "table test (200 ep)";
            if (r.RandomTestMean is { } m) { var l = p.Add.HorizontalLine(m, 1, ScottPlot.Colors.Gray, ScottPlot.LinePattern.Dashed); l.LegendText = $"random mean {m:F2}"; }
            if (r.RandomTestMedian is { } md) { var l = p.Add.HorizontalLine(md, 1, ScottPlot.Colors.Black, ScottPlot.LinePattern.Dotted); l.LegendText = $"random median {md:F2}"; }
            p.YLabel("NAS-Bench-201 CIFAR-10 accuracy (%)");
        }
        else
        {
            var ed = s.State.Epochs.Where(e => e.TrainAcc.HasValue).ToList();
            var xs = ed.Select(e => (double)e.Epoch).ToArray();
            var t = p.Add.Scatter(xs, ed.Select(e => e.TrainAcc!.Value).ToArray()); t.LegendText = "supernet train acc";
            var withVal = ed.Where(e => e.ValAcc.HasValue).ToList();
            if (withVal.Count > 0) { var v = p.Add.Scatter(withVal.Select(e => (double)e.Epoch).ToArray(), withVal.Select(e => e.ValAcc!.Value).ToArray()); v.LegendText = "supernet val acc"; }
            p.YLabel("supernet accuracy (%)");
        }
        p.Title($"{r.Method} ({r.Space}), seed {r.Seed}: derived cell per epoch");
        p.XLabel("epoch");
        p.ShowLegend(ScottPlot.Alignment.LowerRight);
        Save(p, path, 900, 500);
    }
}
