using System.Text.Json.Nodes;
using Tailor.Arch;
using Tailor.Cli.Commands;
using Tailor.Data;
using Tailor.Hardware.Latency;
using Tailor.Hardware.Lut;
using Tailor.Search;
using Tailor.Search.SinglePath;
using Tailor.Search.Trained;
using Tailor.Tests.Hardware;
using Tailor.Util;

namespace Tailor.Tests.Search;

/// <summary>
/// `tailor search random-train` and its space: a tiny spnas-fmnist (width 0.25, one layer per stage,
/// 1,024 networks) with a latency table measured once on ort-cpu with loose settings, real
/// Fashion-MNIST images (600), one epoch per candidate.
/// </summary>
[Collection("serial")]
public class RandomTrainTests
{
    static readonly string? Fmnist = Datasets.FindFashionMnist();
    static readonly string[] SpaceArgs = { "--space", "spnas-fmnist", "--width", "0.25", "--layers-per-stage", "1" };
    static LayeredSpace TinySpace() => Spaces.Get("spnas-fmnist", new SpnasOptions { Width = 0.25, LayersPerStage = 1 });

    static readonly Lazy<string> LutFile = new(() =>
    {
        var lut = LutBuilder.Build(TinySpace(), new OrtCpuTarget(1), null, new LutBuildOptions { Measure = HwData.Quick, CalibrationNetworks = 4 });
        string path = Path.Combine(Directory.CreateTempSubdirectory("tailor-rt-lut").FullName, "lut.json");
        lut.Save(path);
        return path;
    });

    static LayerLatencies Table()
    {
        var sp = TinySpace();
        var lut = Lut.Load(LutFile.Value, sp, sp.Input, new OrtCpuTarget(1));
        return new LayerLatencies(sp, lut.FixedMs, lut.Entry);
    }

    static string Tmp() => Directory.CreateTempSubdirectory("tailor-rt").FullName;

    static string[] Args(string outDir, int budget, int trainEpochs, params string[] more) =>
        SpaceArgs.Concat(new[]
        {
            "--lut", LutFile.Value, "--target", "ort-cpu", "--latency-fraction", "0.5", "--subset", "600", "--budget", budget.ToString(),
            "--eval-epochs", "1", "--train-epochs", trainEpochs.ToString(), "--batch", "64", "--threads", "1", "--max-error", "1000000", "--settle", "0", "--out", outDir,
        }).Concat(more).Prepend("random-train").Prepend("search").ToArray();

    [Fact]
    public void SamplesMutationsAndCrossoversStayInTheBand()
    {
        var table = Table();
        var (lo, hi) = table.Range();
        double target = lo + 0.4 * (hi - lo);
        var s = new LayeredSearchSpace(table.Space, table, target, 0.05);
        Assert.Equal(target * 0.95, s.Lo, 12);
        Assert.Equal(target * 1.05, s.Hi, 12);
        var rng = new Rng(7);
        var seen = new HashSet<string>();
        int[]? prev = null;
        for (int i = 0; i < 200; i++)
        {
            var a = s.Sample(rng);
            double ms = table.Predict(a);
            Assert.InRange(ms, s.Lo, s.Hi);
            Assert.Equal(a, s.Parse(s.Key(a)));
            seen.Add(s.Key(a));
            var m = s.Mutate(a, rng);
            Assert.InRange(table.Predict(m), s.Lo, s.Hi);
            if (prev != null) Assert.InRange(table.Predict(s.Crossover(a, prev, rng)), s.Lo, s.Hi);
            foreach (var n in s.Neighbors(a))
            {
                Assert.Equal(1, n.Zip(a).Count(p => p.First != p.Second));
                Assert.True(s.InBand(n));
            }
            prev = a;
        }
        Assert.True(seen.Count > 10, $"only {seen.Count} distinct samples");
        // the band is really a restriction: some architectures of the space lie outside it
        var any = new Rng(1);
        Assert.Contains(Enumerable.Range(0, 200).Select(_ => TinySpace().Sample(new Random(any.Next(1 << 30)))), a => !s.InBand(a));
        // same seed, same samples
        Assert.Equal(s.Key(s.Sample(new Rng(3))), s.Key(s.Sample(new Rng(3))));
        var f = new float[s.FeatureCount];
        s.Encode(prev!, f);
        Assert.Equal(table.Space.LayerCount, f.Sum());
    }

    [Fact]
    public void AnEmptyBandOrATargetOutOfRangeFailsClearly()
    {
        var table = Table();
        var (lo, hi) = table.Range();
        // just above the fastest network, a band too narrow to hold any other
        var s = new LayeredSearchSpace(table.Space, table, lo * (1 + 1e-7), 1e-9);
        var e = Assert.Throws<TailorException>(() => s.Sample(new Rng(0)));
        Assert.Contains("reachable range", e.Message);
        Assert.Contains(lo.ToString("F3", System.Globalization.CultureInfo.InvariantCulture), e.Message);
        var e2 = Assert.Throws<TailorException>(() => new LayeredSearchSpace(table.Space, table, hi * 2, 0.05));
        Assert.Contains("outside the range", e2.Message);
        Assert.Throws<TailorException>(() => new LayeredSearchSpace(table.Space, table, (lo + hi) / 2, 1.5));
        Assert.Throws<TailorException>(() => new LayeredSearchSpace(table.Space).Parse("0-0"));
        Assert.Throws<TailorException>(() => new LayeredSearchSpace(table.Space).Parse("0-0-0-0-9"));
    }

    [SkippableFact]
    public void EndToEndWritesSummaryAndCandidates()
    {
        Skip.If(Fmnist == null, $"Fashion-MNIST not found at {Datasets.FashionMnistSystemDir} (apt install dataset-fashion-mnist)");
        string dir = Tmp();
        var (code, stdout, err) = CliInProcess.Run(Args(dir, 2, 1, "--json"));
        Assert.True(code == 0, err);
        var s = JsonNode.Parse(stdout)!.AsObject();
        foreach (var k in new[] { "arch", "target_ms", "predicted_ms", "measured_ms", "measured_iqr_ms", "lut_error", "measured_error", "test_acc", "val_acc",
                     "params", "macs", "search_seconds", "search_cpu_seconds", "train_seconds", "evaluated", "candidates", "seed", "data", "target", "versions", "machine", "config" })
            Assert.True(s.ContainsKey(k), k);
        Assert.Equal(2, (int)s["evaluated"]!);
        Assert.Equal(2, s["candidates"]!.AsArray().Count);
        Assert.InRange(Math.Abs((double)s["lut_error"]!), 0, 0.05 + 1e-9);
        Assert.InRange((double)s["test_acc"]!, 0, 1);
        Assert.True((double)s["search_cpu_seconds"]! > 0);
        Assert.Equal("fashion-mnist", (string?)s["data"]);
        Assert.Equal(JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!.ToJsonString(), s.ToJsonString());
        var csv = File.ReadAllLines(Path.Combine(dir, RandomTrainCommand.CandidatesFile));
        Assert.Equal("index,key,names,lut_ms,val_acc,seconds,cpu_seconds,val_loss", csv[0]);
        Assert.Equal(3, csv.Length);
        // the winner is the best candidate by validation accuracy, ties broken by the lower validation loss
        static double D(string v) => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture);
        var rows = csv.Skip(1).Select(l => l.Split(',')).ToList();
        var winner = rows.OrderByDescending(r => D(r[4])).ThenBy(r => D(r[7])).First();
        Assert.Equal(winner[2], (string?)s["arch"]);
        Assert.All(rows, r => Assert.True(double.IsFinite(D(r[7])) && D(r[7]) > 0, "val_loss"));
        foreach (var f in new[] { "arch.json", "model.onnx", Path.Combine("train", "weights.bin"), RandomTrainCommand.StateFile })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        Assert.False(Directory.Exists(Path.Combine(dir, TrainedEvaluator.ScratchFolder)));
        AssertFinalRecipe(dir, batch: 64, epochs: 1, seed: 0, subset: 600);
        // an earlier run is not overwritten without --resume
        var (c2, _, e2) = CliInProcess.Run(Args(dir, 2, 1));
        CliInProcess.AssertOneErrorLine(c2, e2, "--resume");
    }

    /// <summary>The winner was trained with the recipe single-path's final training uses (train/run.json).</summary>
    static void AssertFinalRecipe(string dir, int batch, int epochs, int seed, int subset)
    {
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "train", "run.json")))!["config"]!;
        Assert.Equal("sgd", (string?)cfg["train"]!["optimizer"]);
        Assert.Equal("cosine", (string?)cfg["train"]!["schedule"]);
        Assert.Equal(0.05 * batch / 128.0, (double)cfg["train"]!["lr"]!, 12);
        Assert.Equal(batch, (int)cfg["train"]!["batch_size"]!);
        Assert.Equal(epochs, (int)cfg["train"]!["epochs"]!);
        Assert.Equal(seed, (int)cfg["train"]!["seed"]!);
        Assert.Equal("0.1", (string?)cfg["val_split"]);
        Assert.Equal(subset, (int)cfg["subset"]!);
        Assert.Equal(Path.Combine(dir, "arch.json"), (string?)cfg["arch"]);
    }

    /// <summary>single-path goes through the same final stage (FinalStage) and still writes its outputs.</summary>
    [SkippableFact]
    public void SinglePathUsesTheSharedFinalStage()
    {
        Skip.If(Fmnist == null, $"Fashion-MNIST not found at {Datasets.FashionMnistSystemDir} (apt install dataset-fashion-mnist)");
        string dir = Tmp();
        var (code, stdout, err) = CliInProcess.Run(SpaceArgs.Concat(new[]
        {
            "--lut", LutFile.Value, "--latency-fraction", "0.5", "--epochs", "1", "--subset", "600", "--train-epochs", "1", "--batch", "64",
            "--threads", "1", "--max-error", "1000000", "--settle", "0", "--out", dir, "--json",
        }).Prepend("single-path").Prepend("search").ToArray());
        Assert.True(code == 0, err);
        var s = JsonNode.Parse(stdout)!.AsObject();
        foreach (var k in new[] { "arch", "target_ms", "lambda", "predicted_ms", "measured_ms", "measured_iqr_ms", "lut_error", "measured_error", "test_acc", "val_acc",
                     "params", "macs", "search_seconds", "train_seconds", "search_steps", "projection_flips", "space", "data", "target", "seed", "config", "versions", "machine" })
            Assert.True(s.ContainsKey(k), k);
        Assert.InRange((double)s["test_acc"]!, 0, 1);
        // the compute random-train's --budget-seconds is matched to: process CPU time of the search phase
        // (no upper bound here: tests of other collections run in this process at the same time)
        double cpu = (double)s["search_cpu_seconds"]!;
        Assert.True(cpu > 0, $"search_cpu_seconds {cpu}");
        Assert.Equal(cpu, (double)s["search_compute_seconds"]!, 6);
        Assert.True((bool)s["measured_settled"]!);
        // the measurement's fields follow the prediction, in this order; --settle 0: measured once, no wait
        var keys = s.Select(kv => kv.Key).ToList();
        int at = keys.IndexOf("predicted_ms");
        Assert.Equal(new[] { "measured_ms", "measured_iqr_ms", "measured_settled", "measured_first_ms", "measured_wait_seconds", "measured_steady" }, keys.Skip(at + 1).Take(6));
        Assert.Equal((double)s["measured_ms"]!, (double)s["measured_first_ms"]!);
        Assert.Equal(0, (double)s["measured_wait_seconds"]!);
        foreach (var f in new[] { "arch.json", "model.onnx", "search.csv", Path.Combine("train", "weights.bin") })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        AssertFinalRecipe(dir, batch: 64, epochs: 1, seed: 0, subset: 600);
    }

    [SkippableFact]
    public void ResumeAfterAKillGivesTheSameCandidatesAndWinner()
    {
        Skip.If(Fmnist == null, $"Fashion-MNIST not found at {Datasets.FashionMnistSystemDir} (apt install dataset-fashion-mnist)");
        string a = Tmp(), b = Tmp();
        var (ca, _, ea) = CliInProcess.Run(Args(a, 3, 0));
        Assert.True(ca == 0, ea);
        RandomTrainCommand.AfterCandidate = n => { if (n == 1) throw new OperationCanceledException(); };
        int cb;
        try { (cb, _, _) = CliInProcess.Run(Args(b, 3, 0)); }
        finally { RandomTrainCommand.AfterCandidate = null; }
        Assert.Equal(130, cb);
        var partial = File.ReadAllLines(Path.Combine(b, RandomTrainCommand.CandidatesFile));
        Assert.Equal(2, partial.Length);
        Assert.False(File.Exists(Path.Combine(b, "summary.json")));
        var (cr, _, er) = CliInProcess.Run(Args(b, 3, 0, "--resume"));
        Assert.True(cr == 0, er);
        var full = File.ReadAllLines(Path.Combine(a, RandomTrainCommand.CandidatesFile));
        var resumed = File.ReadAllLines(Path.Combine(b, RandomTrainCommand.CandidatesFile));
        Assert.Equal(4, resumed.Length);
        Assert.Equal(partial[1], resumed[1]); // the finished candidate was not trained again (same seconds)
        static string Result(string row) { var c = row.Split(','); return string.Join(",", c[..5].Append(c[7])); } // index, key, names, lut_ms, val_acc, val_loss
        Assert.Equal(full.Select(Result), resumed.Select(Result));
        Assert.Equal(File.ReadAllText(Path.Combine(a, "arch.json")), File.ReadAllText(Path.Combine(b, "arch.json")));
        var sa = JsonNode.Parse(File.ReadAllText(Path.Combine(a, "summary.json")))!;
        var sb = JsonNode.Parse(File.ReadAllText(Path.Combine(b, "summary.json")))!;
        Assert.Equal((string?)sa["arch"], (string?)sb["arch"]);
        Assert.Equal((double)sa["predicted_ms"]!, (double)sb["predicted_ms"]!);
        // resuming with other settings is refused
        var (cx, _, ex) = CliInProcess.Run(Args(b, 3, 0, "--resume", "--seed", "5"));
        CliInProcess.AssertOneErrorLine(cx, ex, "seed");
    }

    [SkippableFact]
    public void BudgetSecondsStopsStartingCandidates()
    {
        Skip.If(Fmnist == null, $"Fashion-MNIST not found at {Datasets.FashionMnistSystemDir} (apt install dataset-fashion-mnist)");
        string dir = Tmp();
        var (code, stdout, err) = CliInProcess.Run(Args(dir, 5, 0, "--budget-seconds", "0.001", "--json"));
        Assert.True(code == 0, err);
        var s = JsonNode.Parse(stdout)!;
        Assert.Equal(1, (int)s["evaluated"]!); // the first candidate spends the compute budget; no second one starts
        Assert.Equal("budget-seconds", (string?)s["stopped_by"]);
        Assert.True((double)s["search_compute_seconds"]! >= 0.001);
        Assert.Equal((double)s["search_cpu_seconds"]!, (double)s["search_compute_seconds"]!, 9); // one thread
    }

    [SkippableFact]
    public void BadInputGivesOneClearLine()
    {
        Skip.If(Fmnist == null, $"Fashion-MNIST not found at {Datasets.FashionMnistSystemDir} (apt install dataset-fashion-mnist)");
        string dir = Tmp();
        var args = Args(dir, 2, 0).ToList();
        int i = args.IndexOf("--latency-fraction");
        args[i] = "--latency-ms"; args[i + 1] = "1000";
        var (c1, _, e1) = CliInProcess.Run(args.ToArray());
        CliInProcess.AssertOneErrorLine(c1, e1, "outside the range");
        Assert.Contains(" .. ", e1);
        // a table of another space configuration
        var other = Args(dir, 2, 0).ToList();
        other.RemoveRange(other.IndexOf("--width"), 2);
        var (c2, _, e2) = CliInProcess.Run(other.ToArray());
        CliInProcess.AssertOneErrorLine(c2, e2, "space_config.width");
        var (c3, _, e3) = CliInProcess.Run("search", "random-train", "--space", "spnas-cifar", "--data", "fashion-mnist", "--latency-ms", "1", "--out", dir);
        CliInProcess.AssertOneErrorLine(c3, e3, "expects 3x32x32");
        var (c4, _, e4) = CliInProcess.Run("search", "random-train", "--out", dir);
        CliInProcess.AssertOneErrorLine(c4, e4, "--latency-ms");
        var (c5, _, e5) = CliInProcess.Run(Args(dir, 2, 0, "--band", "1.5"));
        CliInProcess.AssertOneErrorLine(c5, e5, "--band");
    }
}
