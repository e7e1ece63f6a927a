using System.Diagnostics;
using System.Text.Json.Nodes;
using Tailor.Arch;
using Tailor.Hardware.Latency;

namespace Tailor.Tests.Hardware;

public class LatencyTests
{
    static readonly Architecture Tiny = Spaces.Get("spnas-fmnist", new SpnasOptions { Width = 0.25 }).Build(new int[10]);

    /// <summary>A fake model that busy-waits a given time per run, chosen per round (to force any spread).</summary>
    sealed class SpinModel(Func<int, double> msForRun) : ILatencyModel
    {
        int _n;
        public void Run()
        {
            double ms = msForRun(_n++);
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalMilliseconds < ms) { }
        }
        public bool RunsOnCallingThread => true;
        public void Dispose() { }
    }

    [Theory]
    [InlineData("ort-cpu", "ort-cpu:threads=1")]
    [InlineData("ort-cpu:threads=2", "ort-cpu:threads=2")]
    [InlineData("torch-cpu:threads=1", "torch-cpu:threads=1")]
    [InlineData(" torch-cpu : threads = 3 ", "torch-cpu:threads=3")]
    public void TargetSpecsParseToCanonicalForm(string spec, string canonical)
    {
        var t = LatencyTargets.Parse(spec);
        Assert.Equal(canonical, t.Spec);
        Assert.Equal(canonical, LatencyTargets.Parse(t.Spec).Spec);
    }

    [Theory]
    [InlineData("gpu", "unknown target 'gpu'")]
    [InlineData("ort-cpu:threads=0", "threads must be an integer in 1..256")]
    [InlineData("ort-cpu:threads=x", "threads must be an integer")]
    [InlineData("ort-cpu:fast=1", "unknown option 'fast'")]
    [InlineData("ort-cpu:threads", "is not key=value")]
    public void BadTargetSpecsAreRefused(string spec, string fragment) =>
        Assert.Contains(fragment, Assert.Throws<TailorException>(() => LatencyTargets.Parse(spec)).Message);

    [Fact]
    public void RuntimeVersionsAndMachineAreRecorded()
    {
        Assert.Matches(@"^onnxruntime \d+\.\d+\.\d+", new OrtCpuTarget().Runtime);
        Assert.Matches(@"^torchsharp 0\.\d+\.\d+ \(libtorch \d", new TorchCpuTarget().Runtime);
        var m = MachineInfo.Current;
        Assert.False(string.IsNullOrWhiteSpace(m.Cpu));
        Assert.Equal(Environment.ProcessorCount, m.Cores);
    }

    [Fact]
    public void StableModelSettlesWithTheDocumentedStructure()
    {
        var o = new MeasureOptions { Warmup = 2, RunsPerRound = 4, MinRounds = 3, MaxRounds = 50, MaxError = 0.5, MinRoundMs = 0, Clock = "wall" };
        var r = LatencyMeter.Measure(new SpinModel(_ => 0.2), o);
        Assert.True(r.Settled);
        Assert.InRange(r.Rounds, 3, 50);
        Assert.Equal(r.Rounds * r.RunsPerRound, r.Runs);
        Assert.Equal(r.Rounds, r.RoundMediansMs.Length);
        Assert.InRange(r.MedianMs, 0.19, 5); // busy-wait: never faster than asked
        Assert.True(r.IqrMs >= 0 && r.Cv >= 0);
    }

    [Fact]
    public void SpreadThatNeverSettlesFailsWithAClearMessage()
    {
        // round r runs take 0.1 * (1 + r % 4) ms (run 0 is the untimed sizing run): the round medians never agree
        int runs = 4;
        var m = new SpinModel(n => 0.1 * (1 + (Math.Max(0, n - 1) / runs) % 4));
        var o = new MeasureOptions { Warmup = 0, RunsPerRound = runs, MinRounds = 3, MaxRounds = 6, MaxError = 0.01, MinRoundMs = 0, Clock = "wall" };
        var e = Assert.Throws<TailorException>(() => LatencyMeter.Measure(m, o, "spin"));
        Assert.Matches(@"^spin: spread never settled: CV \d+\.\d% of round medians after 6 rounds, error \d+\.\d\d% \(limit 1\.00%\)", e.Message);
        // an impossible threshold on a real model fails the same way
        using var real = new OrtCpuTarget().Prepare(Tiny);
        var e2 = Assert.Throws<TailorException>(() => LatencyMeter.Measure(real, HwData.Quick with { MaxError = 0, MaxRounds = 4 }, "tiny"));
        Assert.Contains("spread never settled", e2.Message);
    }

    [Fact]
    public void BadMeasureOptionsAreRefused()
    {
        Assert.Contains("max rounds", Assert.Throws<TailorException>(() => new MeasureOptions { MinRounds = 5, MaxRounds = 2 }.Validate()).Message);
        Assert.Contains("clock", Assert.Throws<TailorException>(() => new MeasureOptions { Clock = "tsc" }.Validate()).Message);
    }

    [Theory]
    [InlineData("ort-cpu")] [InlineData("torch-cpu")]
    public void TargetsMeasureNetworksSegmentsAndOverhead(string spec)
    {
        var t = LatencyTargets.Parse(spec);
        var an = ArchAnalysis.Analyze(Tiny);
        using var whole = t.Prepare(Tiny);
        using var seg = t.PrepareSegment(Tiny, an, 3, 4);
        using var head = t.PrepareSegment(Tiny, an, an.Layers.Count - 2, an.Layers.Count);
        using var ov = t.PrepareOverhead(1, 28, 28);
        var r = LatencyMeter.MeasureMany(new[] { whole, seg, head, ov }, HwData.Quick);
        Assert.All(r, x => Assert.True(x.MedianMs > 0));
        Assert.Equal(ThreadClock.Available ? "cpu" : "wall", r[0].Clock);
        var rec = ArchLatencies.Record(t, Tiny, 1, r[0]);
        Assert.Equal(t.Spec, rec.Target);
        Assert.Equal(16, rec.ArchHash.Length);
    }

    [Fact]
    public void CacheKeysByArchitectureBatchAndTarget()
    {
        string path = Path.Combine(HwData.TempDir(), "cache.jsonl");
        var t = new OrtCpuTarget();
        var c = new LatencyCache(path);
        var r1 = c.GetOrMeasure(t, Tiny, 1, HwData.Quick);
        Assert.Same(r1, c.GetOrMeasure(t, Tiny, 1, HwData.Quick));
        File.AppendAllText(path, "{\"median_ms\": 1, \"arch_ha"); // torn last line of a killed run
        var c2 = new LatencyCache(path);
        Assert.Equal(1, c2.Count);
        Assert.Equal(r1.MedianMs, c2.Get(Tiny, 1, t)!.MedianMs);
        Assert.Null(c2.Get(Tiny, 2, t));
        Assert.Null(c2.Get(Tiny, 1, new OrtCpuTarget(2)));
        Assert.Null(c2.Get(Tiny.WithClasses(3), 1, t));
    }

    [Fact]
    public void CliMeasurePrintsJsonAndFailsCleanly()
    {
        var r = CliProcess.Run(new[] { "latency", "measure", "--arch", "zoo:mnasnet_a1", "--input", "3x32x32", "--classes", "10", "--target", "ort-cpu:threads=1", "--json" }.Concat(HwData.QuickArgs).ToArray());
        Assert.True(r.Code == 0, r.Err);
        var j = JsonNode.Parse(r.Out)!.AsObject();
        foreach (var k in new[] { "median_ms", "iqr_ms", "runs", "cv", "rounds", "target", "runtime", "threads", "machine", "arch_hash", "clock" })
            Assert.True(j.ContainsKey(k), k);
        Assert.True((double)j["median_ms"]! > 0);
        Assert.Equal("ort-cpu:threads=1", (string?)j["target"]);
        var never = CliProcess.Run("latency", "measure", "--arch", "zoo:mnasnet_a1", "--input", "3x32x32", "--max-error", "0", "--min-rounds", "2", "--max-rounds", "4", "--runs", "2", "--json");
        CliProcess.AssertOneLineError(never, "spread never settled");
        Assert.Equal("", never.Out); // no half result on stdout
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "measure", "--arch", "zoo:mnasnet_a1", "--target", "tpu"), "unknown target 'tpu'");
    }
}

// serial: timings of other tests running beside it would blur the bracket
[Collection("serial")]
public class WidthFitTests
{
    static readonly MeasureOptions Quick = new() { Warmup = 3, RunsPerRound = 5, MinRounds = 3, MaxRounds = 60, MaxError = 0.2, MinRoundMs = 5 };
    static readonly Architecture Mbv2 = Zoo.Get("mobilenet_v2_cifar", new InputShape(1, 28, 28), 10);

    [Fact]
    public void FittedWidthBracketsTheTargetAndIsCloserThanItsGridNeighbours()
    {
        var t = LatencyTargets.Parse("ort-cpu");
        // a wide range (about 3x in latency) so that machine noise cannot reorder its ends
        var lo = ArchLatencies.Measure(t, WidthScaling.Scale(Mbv2, 0.2), 1, Quick).MedianMs;
        var hi = ArchLatencies.Measure(t, WidthScaling.Scale(Mbv2, 1.0), 1, Quick).MedianMs;
        Assert.True(hi > 1.5 * lo, $"latency should grow with width ({lo} ms at 0.2, {hi} ms at 1.0)");
        double target = (lo + hi) / 2;
        var r = WidthFit.Fit(t, Mbv2, target, 0.2, 1.0, Quick);
        Assert.InRange(r.Width, 0.2 + 1e-9, 1.0 - 1e-9); // strictly inside: the ends are a factor 1.5+ off
        Assert.Equal(Math.Round(r.Width / WidthFit.Step) * WidthFit.Step, r.Width, 9);
        Assert.InRange(r.Probes.Count, 3, 8);             // both ends plus a bisection of 17 grid points
        Assert.Contains(r.Probes, p => p.Width == 0.2);
        Assert.Contains(r.Probes, p => p.Width == 1.0);
        Assert.Equal($"{Mbv2.Name}_w{r.Width:0.###}", r.Arch.Name);
        // closer to the target than either end of the range (generous: a busy machine moves medians by ~20%)
        Assert.True(Math.Abs(r.Latency.MedianMs - target) < 0.75 * (hi - lo),
            $"picked width {r.Width} at {r.Latency.MedianMs} ms for target {target} ms ({lo}..{hi})");
    }

    [Fact]
    public void TargetOutsideTheReachableRangeNamesTheRange()
    {
        var t = LatencyTargets.Parse("ort-cpu");
        var e = Assert.Throws<TailorException>(() => WidthFit.Fit(t, Mbv2, 1e-4, 0.2, 0.3, Quick));
        Assert.Contains("--latency-ms", e.Message);
        Assert.Contains("reaches", e.Message);
        Assert.Contains("width 0.20", e.Message);
        Assert.Throws<TailorException>(() => WidthFit.Fit(t, Mbv2, -1, 0.2, 0.3, Quick));
    }
}

public class SteadyMeasureTests
{
    static Func<ArchLatency> Sequence(params double[] ms)
    {
        int i = 0;
        return () => new ArchLatency { MedianMs = ms[Math.Min(i++, ms.Length - 1)] };
    }

    [Fact]
    public void WaitsUntilTwoMediansAgreeAndKeepsTheLatest()
    {
        var slept = new List<TimeSpan>();
        // right after training: slow, recovering, then at rest
        var r = SteadyMeasure.Run(Sequence(0.53, 0.49, 0.45, 0.44, 0.30), SteadyMeasure.Options.Default, slept.Add);
        Assert.True(r.Steady);
        Assert.Equal(new[] { 0.53, 0.49, 0.45, 0.44 }, r.Medians);
        Assert.Equal(0.44, r.Latency.MedianMs);
        Assert.Equal(30, r.WaitedSeconds, 9);
        Assert.Equal(3, slept.Count);
    }

    [Fact]
    public void GivesUpAfterMaxWaitAndSaysSo()
    {
        var o = SteadyMeasure.Options.Default with { MaxWait = TimeSpan.FromSeconds(20) };
        var r = SteadyMeasure.Run(Sequence(0.6, 0.5, 0.4, 0.3), o, _ => { });
        Assert.False(r.Steady);
        Assert.Equal(3, r.Medians.Count);
        Assert.Equal(0.4, r.Latency.MedianMs);
        // no wait allowed: one measurement, reported as is
        var once = SteadyMeasure.Run(Sequence(0.6, 0.5), SteadyMeasure.Options.Default with { MaxWait = TimeSpan.Zero }, _ => throw new Exception("must not sleep"));
        Assert.Single(once.Medians);
        Assert.Equal(0.6, once.Latency.MedianMs);
    }

    [Fact]
    public void CliMeasuresAnOnnxFileWithAFreeBatch()
    {
        var dir = HwData.TempDir();
        string onnx = Path.Combine(dir, "mnas.onnx");
        // tailor export onnx writes a free batch dimension ("N"), as exports from elsewhere often do
        var ex = CliProcess.Run("export", "onnx", "--arch", "zoo:mnasnet_a1", "--input", "3x32x32", "--classes", "10", "--out", onnx);
        Assert.True(ex.Code == 0, ex.Err);
        var r = CliProcess.Run(new[] { "latency", "measure", "--onnx", onnx, "--batch", "2", "--target", "ort-cpu:threads=1", "--json" }.Concat(HwData.QuickArgs).ToArray());
        Assert.True(r.Code == 0, r.Err);
        var j = JsonNode.Parse(r.Out)!.AsObject();
        Assert.True((double)j["median_ms"]! > 0);
        Assert.Equal("mnas.onnx", (string?)j["arch"]);
        Assert.Equal("3x32x32", (string?)j["input"]);
        Assert.Equal(2, (int)j["batch"]!);
        Assert.Equal(16, ((string?)j["arch_hash"])!.Length);
        // the same network measured from its IR with the same batch lands in the same range (same runtime, same graph)
        var viaArch = CliProcess.Run(new[] { "latency", "measure", "--arch", "zoo:mnasnet_a1", "--input", "3x32x32", "--classes", "10", "--batch", "2", "--target", "ort-cpu:threads=1", "--json" }.Concat(HwData.QuickArgs).ToArray());
        Assert.True(viaArch.Code == 0, viaArch.Err);
        double a = (double)j["median_ms"]!, b = (double)JsonNode.Parse(viaArch.Out)!["median_ms"]!;
        Assert.InRange(a / b, 0.33, 3.0);

        // bad input: one line each, nothing on stdout
        string garbage = Path.Combine(dir, "garbage.onnx");
        File.WriteAllText(garbage, "not a model");
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "measure", "--onnx", garbage), "garbage.onnx: not a loadable ONNX model");
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "measure", "--onnx", Path.Combine(dir, "missing.onnx")), "missing.onnx: file not found");
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "measure", "--onnx", onnx, "--target", "torch-cpu"), "--onnx: ONNX files are measured on ort-cpu targets");
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "measure", "--onnx", onnx, "--input", "3x64x64"), "drop --input and --classes");
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "measure", "--onnx", onnx, "--arch", "zoo:mnasnet_a1"), "give either --arch");
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "measure"), "give either --arch");
        // a fixed-batch export refuses another batch
        string fixed1 = Path.Combine(dir, "fixed.onnx");
        Assert.Equal(0, CliProcess.Run("export", "onnx", "--arch", "zoo:mnasnet_a1", "--input", "3x32x32", "--classes", "10", "--batch", "1", "--out", fixed1).Code);
        CliProcess.AssertOneLineError(CliProcess.Run("latency", "measure", "--onnx", fixed1, "--batch", "4"), "the model's batch is fixed at 1; pass --batch 1");
    }
}
