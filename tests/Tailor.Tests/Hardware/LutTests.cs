using System.Text.Json.Nodes;
using Tailor.Arch;
using Tailor.Hardware.Latency;
using Tailor.Hardware.Lut;

namespace Tailor.Tests.Hardware;

/// <summary>One small table built once for all LUT tests (a narrow spnas-fmnist: 5 layers, few candidates).</summary>
public sealed class SmallLutFixture
{
    public static readonly SpnasOptions Options = new() { Width = 0.25, LayersPerStage = 1, Kernels = new[] { 3, 5 }, Expansions = new[] { 3 } };
    public LayeredSpace Space { get; } = Spaces.Get("spnas-fmnist", Options);
    public OrtCpuTarget Target { get; } = new(1);
    public Lut Lut { get; }

    public SmallLutFixture()
    {
        Lut = LutBuilder.Build(Space, Target, null, new LutBuildOptions { Measure = HwData.Quick, CalibrationNetworks = 4 });
    }
}

public class LutTests(SmallLutFixture fx) : IClassFixture<SmallLutFixture>
{
    [Fact]
    public void TableHasAnEntryPerCandidateAndRecordsItsContext()
    {
        var lut = fx.Lut;
        Assert.Equal("spnas-fmnist", lut.Space);
        Assert.Equal("1x28x28", lut.Input);
        Assert.Equal("ort-cpu:threads=1", lut.Target);
        Assert.Equal(1, lut.Threads);
        Assert.StartsWith("onnxruntime ", lut.Runtime);
        Assert.Contains("cores", lut.Machine);
        Assert.Equal("0.25", lut.SpaceConfig["width"]);
        Assert.Equal(fx.Space.LayerCount, lut.Layers.Count);
        for (int l = 0; l < fx.Space.LayerCount; l++)
        {
            Assert.Equal(fx.Space.Choices(l).Select(c => c.Name).OrderBy(x => x), lut.Layers[l].Ms.Keys.OrderBy(x => x));
            Assert.All(lut.Layers[l].Ms.Values, v => Assert.True(double.IsFinite(v)));
        }
        Assert.True(lut.RawFixedMs > 0);
        Assert.Equal(4, lut.Calibration.Networks);
        Assert.True(lut.Calibration.B > 0);
        // every layer was timed on its real input shape
        var an = ArchAnalysis.Analyze(fx.Space.Build(new int[fx.Space.LayerCount]));
        int stem = 1;
        for (int l = 0; l < lut.Layers.Count; l++)
        {
            var row = an.Layers[stem + fx.Space.BlockIndex(l)];
            Assert.Equal($"{row.InChannels}x{row.InH}x{row.InW}", lut.Layers[l].Input);
        }
    }

    [Fact]
    public void PredictIsFixedPlusSumOfCalibratedEntries()
    {
        var lut = fx.Lut;
        var rng = new Random(3);
        for (int i = 0; i < 5; i++)
        {
            var c = fx.Space.Sample(rng);
            double sum = lut.FixedMs + c.Select((k, l) => lut.Entry(l, fx.Space.Choices(l)[k].Name)).Sum();
            Assert.Equal(sum, lut.Predict(c, fx.Space), 9);
            Assert.Equal(sum, lut.Predict(c), 9);
            Assert.Equal(sum, lut.Predict(c.Select((k, l) => fx.Space.Choices(l)[k].Name).ToList()), 9);
            Assert.Equal(lut.Calibration.A + lut.Calibration.B * lut.PredictRaw(c, fx.Space), lut.Predict(c, fx.Space), 9);
        }
        Assert.Contains("no entry 'k7_e6'", Assert.Throws<TailorException>(() => lut.Entry(0, "k7_e6")).Message);
    }

    [Fact]
    public void CalibrationFitIsRelativeAndFallsBackToARatio()
    {
        // exact line through the points
        var (a, b) = LutBuilder.RelativeLinearFit(new double[] { 1, 2, 3, 4, 5, 6 }, new double[] { 1.5, 2.7, 3.9, 5.1, 6.3, 7.5 });
        Assert.Equal(0.3, a, 9);
        Assert.Equal(1.2, b, 9);
        // few networks: ratio only
        (a, b) = LutBuilder.RelativeLinearFit(new double[] { 1, 2 }, new double[] { 1.2, 2.4 });
        Assert.Equal((0.0, 1.2), (a, Math.Round(b, 9)));
        // a noisy, anti-correlated sample would give a negative slope: ratio instead
        (a, b) = LutBuilder.RelativeLinearFit(new double[] { 1, 1.1, 1.2, 1.3, 1.4, 1.5 }, new double[] { 2, 1.9, 1.8, 1.7, 1.6, 1.5 });
        Assert.Equal(0.0, a);
        Assert.True(b > 0);
    }

    [Fact]
    public void SaveLoadRoundTripsAndVerifies()
    {
        string path = Path.Combine(HwData.TempDir(), "lut.json");
        fx.Lut.Save(path);
        var back = Lut.Load(path, fx.Space, null, fx.Target);
        Assert.Equal(fx.Lut.ToJson(), back.ToJson());
        var c = new int[fx.Space.LayerCount];
        Assert.Equal(fx.Lut.Predict(c, fx.Space), back.Predict(c, fx.Space));
        Assert.Equal(fx.Space.Name, back.RebuildSpace().Name);
        Assert.Equal(fx.Space.Config, back.RebuildSpace().Config);
    }

    [Fact]
    public void MismatchedTablesAreRefusedNamingTheField()
    {
        string path = Path.Combine(HwData.TempDir(), "lut.json");
        fx.Lut.Save(path);
        string Refuse(LayeredSpace s, InputShape? input = null, ILatencyTarget? t = null) =>
            Assert.Throws<TailorException>(() => Lut.Load(path, s, input, t)).Message;
        Assert.Equal($"{path}: $.space: table is for space 'spnas-fmnist', not 'spnas-cifar'", Refuse(Spaces.Get("spnas-cifar", SmallLutFixture.Options)));
        Assert.Equal($"{path}: $.space_config.width: table has '0.25', the space has '0.5'", Refuse(Spaces.Get("spnas-fmnist", SmallLutFixture.Options with { Width = 0.5 })));
        Assert.Contains("$.space_config.kernels", Refuse(Spaces.Get("spnas-fmnist", SmallLutFixture.Options with { Kernels = new[] { 3 } })));
        Assert.Equal($"{path}: $.input: table is for input 1x28x28, not 1x32x32", Refuse(fx.Space, new InputShape(1, 32, 32)));
        Assert.Equal($"{path}: $.target: table was measured on 'ort-cpu:threads=1', not 'ort-cpu:threads=2'", Refuse(fx.Space, null, new OrtCpuTarget(2)));
        Assert.Contains("$.target: table was measured on 'ort-cpu:threads=1', not 'torch-cpu:threads=1'", Refuse(fx.Space, null, new TorchCpuTarget(1)));
        Assert.Contains("$.classes: table is for 10 classes, not 7", Refuse(Spaces.Get("spnas-fmnist", SmallLutFixture.Options with { Classes = 7 })));
    }

    [Fact]
    public void CorruptTablesAreRefusedInOneLine()
    {
        string dir = HwData.TempDir();
        string json = fx.Lut.ToJson();
        string Bad(string text)
        {
            string p = Path.Combine(dir, $"{Guid.NewGuid():N}.json");
            File.WriteAllText(p, text);
            var m = Assert.Throws<TailorException>(() => Lut.Load(p, fx.Space)).Message;
            Assert.DoesNotContain('\n', m);
            return m;
        }
        Assert.Contains("not a valid latency table (corrupt JSON", Bad(json[..(json.Length / 2)]));
        Assert.Contains("not a valid latency table", Bad("[1, 2]"));
        Assert.Contains("$.format: expected 'tailor-lut'", Bad(json.Replace("\"tailor-lut\"", "\"something\"")));
        Assert.Contains("$.version: unsupported version 9", Bad(json.Replace("\"version\": 1", "\"version\": 9")));
        var node = JsonNode.Parse(json)!;
        node["layers"]![2]!["ms"]!.AsObject().Remove("k5_e3");
        Assert.Contains("$.layers[2].candidates: must list exactly the candidates of ms", Bad(node.ToJsonString()));
        node["layers"]![2]!["candidates"]!.AsArray().RemoveAt(1);
        Assert.Contains("$.layers[2].ms: no entry for candidate 'k5_e3'", Bad(node.ToJsonString()));
        node = JsonNode.Parse(json)!;
        node["layers"]![1]!["ms"]!["k3_e3"] = "fast";
        Assert.Contains("corrupt JSON at $.layers[1].ms.k3_e3", Bad(node.ToJsonString()));
        node = JsonNode.Parse(json)!;
        node["layers"]!.AsArray().RemoveAt(4);
        Assert.Contains("$.layers: table has 4 searchable layers, the space has 5", Bad(node.ToJsonString()));
        node = JsonNode.Parse(json)!;
        node["calibration"]!["b"] = -1;
        Assert.Contains("$.calibration: invalid calibration", Bad(node.ToJsonString()));
        Assert.Contains("file not found", Assert.Throws<TailorException>(() => Lut.Load(Path.Combine(dir, "none.json"))).Message);
    }

    [Fact]
    public void RecalibrationKeepsTheEntriesAndRefitsOnFreshMeasurements()
    {
        var again = LutBuilder.Recalibrate(fx.Lut, fx.Space, fx.Target, HwData.Quick);
        Assert.Equal(fx.Lut.Layers, again.Layers);
        Assert.Equal(fx.Lut.RawFixedMs, again.RawFixedMs);
        Assert.Equal(fx.Lut.Calibration.Networks, again.Calibration.Networks);
        Assert.Equal(fx.Lut.Calibration.Samples.Select(x => x.Choices), again.Calibration.Samples.Select(x => x.Choices));
        Assert.True(again.Calibration.B > 0);
        Assert.Throws<TailorException>(() => LutBuilder.Recalibrate(fx.Lut, fx.Space, new OrtCpuTarget(2), HwData.Quick));
    }

    [Fact]
    public void CheckScoresRandomNetworksEndToEnd()
    {
        var r = LutCheck.Run(fx.Lut, fx.Space, fx.Target, 6, 2, HwData.Quick, chunk: 4, recalibrate: true);
        Assert.NotNull(r.Recalibrated);
        Assert.NotNull(r.Drift);
        Assert.All(r.Rows, x => Assert.NotNull(x.RecalibratedMs));
        Assert.Equal(6, r.Rows.Count);
        Assert.All(r.Rows, x => Assert.True(x.MeasuredMs > 0 && x.PredictedMs > 0));
        Assert.InRange(r.Calibrated.Within10, 0, 1);
        Assert.InRange(r.Raw.KendallTau, -1, 1);
        Assert.Equal(r.Rows.Select(x => x.PredictedMs).ToArray(), r.Rows.Select(x => fx.Lut.Predict(fx.Space.Parse(x.Choices), fx.Space)).ToArray());
    }

    [Fact]
    public void CliBuildAndCheckWriteTheirFilesAndRefuseBadInput()
    {
        string dir = HwData.TempDir();
        string lut = Path.Combine(dir, "lut.json"), png = Path.Combine(dir, "scatter.png"), rows = Path.Combine(dir, "rows.csv");
        var space = new[] { "--space", "spnas-fmnist", "--width", "0.25", "--layers-per-stage", "1", "--expansions", "3" };
        var r = CliProcess.Run(new[] { "lut", "build" }.Concat(space).Concat(new[] { "--target", "ort-cpu", "--out", lut, "--calibrate", "3", "--quiet" }).Concat(HwData.QuickArgs).ToArray());
        Assert.True(r.Code == 0, r.Err);
        Assert.StartsWith("wrote ", r.Out);
        // --json: the same build, its summary as JSON on stdout
        string lutJ = Path.Combine(dir, "lut-j.json");
        r = CliProcess.Run(new[] { "lut", "build" }.Concat(space).Concat(new[] { "--target", "ort-cpu", "--out", lutJ, "--calibrate", "3", "--quiet", "--json" }).Concat(HwData.QuickArgs).ToArray());
        Assert.True(r.Code == 0, r.Err);
        var built = JsonNode.Parse(r.Out)!;
        Assert.Equal(lutJ, (string)built["path"]!);
        Assert.Equal("spnas-fmnist", (string)built["space"]!);
        Assert.Equal(Lut.Load(lutJ).Layers.Sum(l => l.Ms.Count), (int)built["entries"]!);
        Assert.Equal(3, (int)built["calibration"]!["networks"]!);
        Assert.True((double)built["build_seconds"]! > 0);
        r = CliProcess.Run(new[] { "lut", "check", "--lut", lut, "--samples", "4", "--json", "--out", png, "--rows", rows, "--quiet", "--recalibrate" }.Concat(HwData.QuickArgs).ToArray());
        Assert.True(r.Code == 0, r.Err);
        var j = JsonNode.Parse(r.Out)!;
        foreach (var k in new[] { "mape", "rmse", "kendall_tau", "within10" })
        {
            Assert.NotNull(j["calibrated"]![k]);
            Assert.NotNull(j["raw"]![k]);
            Assert.NotNull(j["recalibrated"]![k]);
        }
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png)[..4]);
        Assert.Equal(5, File.ReadAllLines(rows).Length);

        // bad input: corrupt table, impossible threshold (nothing written), unknown space
        string corrupt = Path.Combine(dir, "corrupt.json");
        File.WriteAllText(corrupt, File.ReadAllText(lut)[..100]);
        string png2 = Path.Combine(dir, "no.png"), rows2 = Path.Combine(dir, "no.csv");
        CliProcess.AssertOneLineError(CliProcess.Run("lut", "check", "--lut", corrupt, "--samples", "3", "--out", png2, "--rows", rows2), "not a valid latency table");
        // a table that does not match its own space (edited: the space now has 5 searchable layers, the table 4)
        string mismatched = Path.Combine(dir, "mismatched.json");
        var node = JsonNode.Parse(File.ReadAllText(lut))!;
        node["space_config"]!["layers_per_stage"] = "2";
        File.WriteAllText(mismatched, node.ToJsonString());
        CliProcess.AssertOneLineError(CliProcess.Run("lut", "check", "--lut", mismatched, "--samples", "3", "--out", png2, "--rows", rows2), "searchable layers, the space has");
        // end-to-end measurements whose spread never settles: nothing written
        var unsettled = CliProcess.Run("lut", "check", "--lut", lut, "--samples", "3", "--out", png2, "--rows", rows2, "--json", "--quiet",
            "--runs", "2", "--min-rounds", "2", "--max-rounds", "3", "--max-error", "0");
        CliProcess.AssertOneLineError(unsettled, "spread never settled");
        Assert.Equal("", unsettled.Out);
        Assert.False(File.Exists(png2));
        Assert.False(File.Exists(rows2));
        string never = Path.Combine(dir, "never.json");
        var neverArgs = new[] { "lut", "build" }.Concat(space).Concat(new[] { "--out", never, "--calibrate", "0", "--quiet", "--runs", "2", "--min-rounds", "2", "--max-rounds", "3", "--max-error", "0" }).ToArray();
        CliProcess.AssertOneLineError(CliProcess.Run(neverArgs.Append("--strict").ToArray()), "spread never settled");
        Assert.False(File.Exists(never));
        // by default a busy machine does not fail the build: the medians are kept and the table names what never settled
        var tolerant = CliProcess.Run(neverArgs);
        Assert.True(tolerant.Code == 0, tolerant.Err);
        var unsettledNames = JsonNode.Parse(File.ReadAllText(never))!["unsettled"]!.AsArray().Select(n => (string)n!).ToList();
        Assert.NotEmpty(unsettledNames);
        Assert.All(unsettledNames, n => Assert.Matches(@"\(error \d+\.\d%\)$", n));
        File.Delete(never);
        CliProcess.AssertOneLineError(CliProcess.Run("lut", "build", "--space", "nope", "--out", never), "space 'nope': unknown search space");
        CliProcess.AssertOneLineError(CliProcess.Run("lut", "build", "--space", "fbnet", "--width", "0.5", "--out", never), "apply to the spnas-* spaces only");
        Assert.Empty(Directory.GetFiles(dir, ".*"));
    }
}

/// <summary>Issue 3 item 6: the FBNet space as ../shared/data/README.md describes HW-NAS-Bench's CIFAR setting.</summary>
public class FbnetSpaceTests
{
    [Fact]
    public void FbnetSpaceMatchesTheReadme()
    {
        var s = Spaces.Get("fbnet");
        Assert.Equal(1.0, s.Size / Math.Pow(9, 22), 12);
        Assert.Equal(new InputShape(3, 32, 32), s.Input);
        Assert.Equal(100, s.Classes);
        var stem = Assert.Single(s.Stem);
        Assert.Equal((BlockKind.ConvBnAct, 16, 3, 1), (stem.Kind, stem.Out, stem.Kernel, stem.Stride));
        Assert.Equal(1504, Assert.Single(s.Head.Convs).Out);
        Assert.Equal(1, s.Head.Convs[0].Kernel);
        int[] n = { 1, 4, 4, 4, 4, 4, 1 }, outs = { 16, 24, 32, 64, 112, 184, 352 }, strides = { 1, 1, 2, 2, 1, 2, 1 };
        int l = 0;
        for (int st = 0; st < 7; st++)
            for (int i = 0; i < n[st]; i++, l++)
            {
                var ch = s.Choices(l).ToDictionary(c => c.Name, c => c.Block);
                Assert.All(ch.Values, b => Assert.Equal(outs[st], b.Out));
                Assert.All(ch.Values, b => Assert.Equal(i == 0 ? strides[st] : 1, b.Stride));
                Assert.All(ch.Values, b => Assert.Equal(Activation.Relu, b.Act));
                foreach (var k in new[] { 3, 5 })
                {
                    var e1 = ch[$"k{k}_e1"];
                    Assert.True(e1.HasExpand && e1.Kernel == k && e1.Groups == 1 && !e1.Shuffle); // FBNet's IRF keeps the 1x1 at e=1
                    var g2 = ch[$"k{k}_e1_g2"];
                    Assert.True(g2.HasExpand && g2.Groups == 2 && g2.Shuffle && g2.Expansion == 1);
                    Assert.Equal((3, 1), (ch[$"k{k}_e3"].Expansion, ch[$"k{k}_e3"].Groups));
                    Assert.Equal(6, ch[$"k{k}_e6"].Expansion);
                }
                Assert.Equal(BlockKind.Skip, ch["skip"].Kind);
            }
        Assert.Equal(22, l);
        // a skip that changes channels or stride is 1x1 conv + BN + ReLU, otherwise identity
        var an = ArchAnalysis.Analyze(s.Build(Enumerable.Repeat(8, 22).ToArray()));
        var skips = an.Layers.Where(x => x.Block?.Kind == BlockKind.Skip).ToList();
        Assert.Equal(22, skips.Count);
        Assert.Equal(new[] { 1, 5, 9, 13, 17, 21 }, skips.Select((x, i) => (x, i)).Where(t => t.x.Kind == "skip(1x1)").Select(t => t.i));
        Assert.Equal(4, an.Layers[^2].OutH);
    }
}
