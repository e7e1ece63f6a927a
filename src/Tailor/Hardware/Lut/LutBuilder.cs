using System.Diagnostics;
using Tailor.Arch;
using Tailor.Hardware.Latency;
using Tailor.Util;

namespace Tailor.Hardware.Lut;

public sealed record LutBuildOptions
{
    public MeasureOptions Measure { get; init; } = MeasureOptions.Default;
    /// <summary>Whole networks measured to fit the calibration (the smallest, the largest and random ones); 0 = none.</summary>
    public int CalibrationNetworks { get; init; } = 20;
    public int CalibrationSeed { get; init; } = 1_000_003;
    public int Batch { get; init; } = 1;
    /// <summary>Seed of the random weights.</summary>
    public int Seed { get; init; }
    /// <summary>Fail when any measurement never settles (default: keep its median, warn, and name it in <see cref="Lut.Unsettled"/>).</summary>
    public bool Strict { get; init; }
}

/// <summary>Builds a <see cref="Lut"/> by timing every candidate of every searchable layer in its real context.</summary>
public static class LutBuilder
{
    sealed record Item(string Name, Architecture Arch, ArchAnalysis Analysis, int From, int To, int Layer, string? Candidate);

    public static Lut Build(LayeredSpace space, ILatencyTarget target, InputShape? input = null, LutBuildOptions? o = null, Action<string>? log = null)
    {
        o ??= new LutBuildOptions();
        if (o.Batch < 1) throw new TailorException($"lut build: batch must be >= 1 (got {o.Batch})");
        if (o.CalibrationNetworks < 0) throw new TailorException($"lut build: calibration networks must be >= 0 (got {o.CalibrationNetworks})");
        o.Measure.Validate();
        var sw = Stopwatch.StartNew();
        var inShape = input ?? space.Input;
        Architecture Make(int[] ch) => input == null ? space.Build(ch) : space.Build(ch).WithInput(input);

        var baseChoice = new int[space.LayerCount];
        var baseArch = Make(baseChoice);
        var baseAn = ArchAnalysis.Analyze(baseArch, $"space:{space.Name} @ {inShape}");
        int stem = baseArch.Stem.Count;
        var searchRows = new HashSet<int>(Enumerable.Range(0, space.LayerCount).Select(l => stem + space.BlockIndex(l)));

        var items = new List<Item>();
        // fixed parts: maximal runs of non-searchable rows (stem + fixed blocks, ..., head convs + pool + FC)
        for (int r = 0; r < baseAn.Layers.Count;)
        {
            if (searchRows.Contains(r)) { r++; continue; }
            int e = r;
            while (e + 1 < baseAn.Layers.Count && !searchRows.Contains(e + 1)) e++;
            items.Add(new Item($"{baseAn.Layers[r].Path}..{baseAn.Layers[e].Path}", baseArch, baseAn, r, e + 1, -1, null));
            r = e + 1;
        }
        int nFixed = items.Count;
        var layers = new List<LutLayer>();
        for (int l = 0; l < space.LayerCount; l++)
        {
            int row = stem + space.BlockIndex(l);
            var info = baseAn.Layers[row];
            var ms = new Dictionary<string, double>();
            for (int c = 0; c < space.Choices(l).Count; c++)
            {
                var cand = space.Choices(l)[c];
                var ch = (int[])baseChoice.Clone();
                ch[l] = c;
                var a = Make(ch);
                var an = ArchAnalysis.Analyze(a);
                if (an.Layers[row].Kind == "skip") { ms[cand.Name] = 0; continue; } // identity costs nothing
                ms[cand.Name] = double.NaN;
                items.Add(new Item($"layer {l} ({info.Path}) {cand.Name}", a, an, row, row + 1, l, cand.Name));
            }
            layers.Add(new LutLayer
            {
                Layer = l, Block = info.Path, Input = $"{info.InChannels}x{info.InH}x{info.InW}", Output = info.OutShape,
                Stride = space.Choices(l)[0].Block.Stride, Ms = ms, Candidates = space.Choices(l).Select(c => c.Name).ToList(),
            });
        }
        log?.Invoke($"lut build: {space.Name} @ {inShape} on {target.Spec}: {nFixed} fixed parts, {items.Count - nFixed} candidate ops in context");

        // calibration networks are measured in the same interleaved rounds as the parts, so the fit
        // relates parts and whole networks under the same machine conditions
        var calib = o.CalibrationNetworks > 0 ? CalibrationChoices(space, o.CalibrationNetworks, o.CalibrationSeed) : new List<int[]>();
        var models = new List<ILatencyModel>();
        LatencyResult[] res;
        List<string> unsettled;
        try
        {
            foreach (var it in items) models.Add(target.PrepareSegment(it.Arch, it.Analysis, it.From, it.To, o.Batch, o.Seed));
            models.Add(target.PrepareOverhead(inShape.Channels, inShape.Height, inShape.Width, o.Batch));
            foreach (var c in calib) models.Add(target.Prepare(Make(c), o.Batch, o.Seed));
            var names = items.Select(i => i.Name).Append("empty graph (call overhead)").Concat(calib.Select(c => Make(c).Name)).ToList();
            log?.Invoke($"lut build: measuring {models.Count} models interleaved ({items.Count} parts, 1 empty graph, {calib.Count} whole networks for calibration)");
            res = LatencyMeter.MeasureMany(models, o.Measure, names,
                (round, settled) => log?.Invoke($"  round {round}: {settled}/{models.Count} settled"), throwUnsettled: o.Strict);
            // on a busy machine a few of ~60 models may not settle within the round limit: their medians
            // are kept (the calibration fit below reports the table's accuracy on whole networks) and
            // named in the table, rather than failing a build that took a minute (--strict restores the failure)
            unsettled = res.Select((r, i) => (r, i)).Where(t => !t.r.Settled)
                .Select(t => FormattableString.Invariant($"{names[t.i]} (error {100 * t.r.Error:F1}%)")).ToList();
            if (unsettled.Count > 0)
                log?.Invoke($"lut build: warning: {unsettled.Count} of {models.Count} measurements never settled (busy machine?): {string.Join("; ", unsettled.Take(3))}{(unsettled.Count > 3 ? "; ..." : "")}");
        }
        finally { foreach (var m in models) m.Dispose(); }

        double overhead = res[items.Count].MedianMs;
        var fixedParts = new List<LutFixedPart>();
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            double t = res[i].MedianMs - overhead;
            if (it.Layer < 0)
            {
                var f = it.Analysis.Layers[it.From];
                fixedParts.Add(new LutFixedPart { Blocks = it.Name, Input = $"{f.InChannels}x{f.InH}x{f.InW}", Ms = t });
            }
            else layers[it.Layer].Ms[it.Candidate!] = t;
        }
        var lut = new Lut
        {
            Space = space.Name, SpaceConfig = space.Config.ToDictionary(kv => kv.Key, kv => kv.Value), Input = inShape.ToString(),
            Classes = space.Classes, Batch = o.Batch, Target = target.Spec, Runtime = target.Runtime, Threads = target.Threads,
            Machine = MachineInfo.Current.ToString(), Date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"), Measure = o.Measure,
            LoadAvg = MachineInfo.LoadAverage(), OverheadMs = overhead, RawFixedMs = overhead + fixedParts.Sum(f => f.Ms),
            Fixed = fixedParts, Layers = layers, Clock = res[0].Clock, Unsettled = unsettled,
        };

        if (calib.Count > 0)
        {
            var measured = res.Skip(items.Count + 1).Select(m => m.MedianMs).ToArray();
            lut = lut.WithCalibration(LutCalibration.Fit(calib, calib.Select(c => lut.PredictRaw(c, space)).ToArray(), measured, o.CalibrationSeed));
        }
        return lut.WithBuildSeconds(sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Measures the table's calibration networks again, now, and refits the calibration: for a machine
    /// whose speed drifted since the table was built (other load, another power state). The entries stay.
    /// </summary>
    public static Lut Recalibrate(Lut lut, LayeredSpace space, ILatencyTarget target, MeasureOptions? o = null, int networks = 0)
    {
        lut.Verify(space, lut.InputShape, target);
        int n = networks > 0 ? networks : Math.Max(lut.Calibration.Networks, 2);
        int seed = lut.Calibration.Networks > 0 ? lut.Calibration.Seed : new LutBuildOptions().CalibrationSeed;
        var choices = CalibrationChoices(space, n, seed);
        var input = lut.InputShape;
        var m = ArchLatencies.MeasureMany(target, choices.Select(c => space.Build(c).WithInput(input)).ToList(), lut.Batch, o ?? lut.Measure)
            .Select(x => x.MedianMs).ToArray();
        return lut.WithCalibration(LutCalibration.Fit(choices, choices.Select(c => lut.PredictRaw(c, space)).ToArray(), m, seed));
    }

    /// <summary>The smallest (first candidate everywhere), the largest (last candidate everywhere) and random networks.</summary>
    public static List<int[]> CalibrationChoices(LayeredSpace space, int n, int seed)
    {
        var list = new List<int[]> { new int[space.LayerCount] };
        if (n > 1) list.Add(Enumerable.Range(0, space.LayerCount).Select(l => space.Choices(l).Count - 1).ToArray());
        var rng = new Random(seed);
        while (list.Count < n) list.Add(space.Sample(rng));
        return list.Take(n).ToList();
    }

    /// <summary>
    /// Least squares of the relative error: minimises sum ((a + b x - y) / y)^2. With fewer than 6 networks,
    /// or when the two-parameter fit is not a sensible calibration (slope &lt;= 0, or a non-positive prediction
    /// for the fastest network, which a noisy machine can produce), only the ratio b is fitted (a = 0).
    /// </summary>
    public static (double A, double B) RelativeLinearFit(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        double rx = 0, rxx = 0;
        for (int i = 0; i < x.Count; i++) { rx += x[i] / y[i]; rxx += x[i] * x[i] / (y[i] * y[i]); }
        var ratio = (0.0, rx / rxx);
        if (x.Count < 6) return ratio;
        double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (int i = 0; i < x.Count; i++)
        {
            double w = 1 / (y[i] * y[i]);
            sw += w; sx += w * x[i]; sy += w * y[i]; sxx += w * x[i] * x[i]; sxy += w * x[i] * y[i];
        }
        double det = sw * sxx - sx * sx;
        if (Math.Abs(det) < 1e-12 * sw * sxx) return ratio;
        double b = (sw * sxy - sx * sy) / det;
        double a = (sy - b * sx) / sw;
        if (!(b > 0) || a + b * x.Min() <= 0) return ratio;
        return (a, b);
    }
}
