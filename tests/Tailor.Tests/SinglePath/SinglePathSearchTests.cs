using Tailor.Arch;
using Tailor.Data;
using Tailor.Search.SinglePath;
using static TorchSharp.torch;

namespace Tailor.Tests.SinglePath;

/// <summary>
/// Search mechanics on real Fashion-MNIST images with a tiny space. The latency table here is an
/// analytic MAC-proportional model (not a measurement): it makes the tests exact and fast; measured
/// tables are exercised by the hardware tests and the CLI.
/// </summary>
[Collection("serial")]
public class SinglePathSearchTests
{
    static readonly string? Fmnist = Datasets.FindFashionMnist();

    static LayeredSpace TinySpace() => Spaces.Get("spnas-fmnist", new SpnasOptions { Width = 0.25, LayersPerStage = 2 });

    /// <summary>Latency proxy: 1 ms per 10M MACs of each candidate in context, fixed part likewise.</summary>
    static LayerLatencies MacTable(LayeredSpace s)
    {
        var baseA = ArchAnalysis.Analyze(s.Build(new int[s.LayerCount]));
        double rowsMacs(Architecture a, int layer) => ArchAnalysis.Analyze(a).Layers[s.Stem.Count + s.BlockIndex(layer)].Macs / 1e7;
        double fixedMs = baseA.Layers.Select((l, i) => (l, i)).Where(t => !Enumerable.Range(0, s.LayerCount).Any(k => s.Stem.Count + s.BlockIndex(k) == t.i)).Sum(t => t.l.Macs) / 1e7;
        return new LayerLatencies(s, fixedMs, (l, name) =>
        {
            var c = new int[s.LayerCount];
            c[l] = s.Choices(l).ToList().FindIndex(x => x.Name == name);
            return rowsMacs(s.Build(c), l);
        });
    }

    static Tailor.Data.DataLoader Loader(int n = 256, int batch = 32)
    {
        var d = Datasets.Open("fashion-mnist").Train;
        var sub = Splits.Subset(d, n, 0);
        return new Tailor.Data.DataLoader(sub, batch, Normalization.Of(sub), shuffle: true, dropLast: true);
    }

    static string Tmp() => Directory.CreateTempSubdirectory("tailor-spnas").FullName;

    [SkippableFact]
    public void ResumeAfterAKillGivesTheSameArchitectureAndLog()
    {
        Skip.If(Fmnist == null, $"Fashion-MNIST not found at {Datasets.FashionMnistSystemDir} (apt install dataset-fashion-mnist)");
        set_num_threads(1);
        var space = TinySpace();
        var table = MacTable(space);
        var cfg = new SinglePathConfig { Epochs = 3, BatchSize = 32, Lambda = 0.05, Seed = 3, LrPer256 = 0.08 };
        using var loader = Loader(192);
        string a = Tmp(), b = Tmp();
        var full = new SinglePathSearch(space, table, cfg).Run(loader, a, resume: false);
        // "kill" the second run in the middle of epoch 2 (after the epoch-1 checkpoint)
        long killAt = loader.BatchCount + 2;
        Assert.ThrowsAny<OperationCanceledException>(() =>
            new SinglePathSearch(space, table, cfg).Run(loader, b, resume: false, (s, _, _, _, _) => { if (s == killAt) throw new OperationCanceledException(); }));
        var resumed = new SinglePathSearch(space, table, cfg).Run(loader, b, resume: true);
        Assert.Equal(full.Names, resumed.Names);
        Assert.Equal(full.FinalCe, resumed.FinalCe);
        Assert.Equal(File.ReadAllText(Path.Combine(a, SinglePathSearch.CsvFile)), File.ReadAllText(Path.Combine(b, SinglePathSearch.CsvFile)));
    }

    [SkippableFact]
    public void DecisionsRespondToLambdaAndToTheTarget()
    {
        Skip.If(Fmnist == null, $"Fashion-MNIST not found at {Datasets.FashionMnistSystemDir} (apt install dataset-fashion-mnist)");
        set_num_threads(1);
        var space = TinySpace();
        var table = MacTable(space);
        using var loader = Loader(256);
        SinglePathResult Run(SinglePathConfig c) => new SinglePathSearch(space, table, c with { Epochs = 3, BatchSize = 32, Seed = 1, LrPer256 = 0.08 }).Run(loader, Tmp(), false);
        var none = Run(new SinglePathConfig { Lambda = 0.0 });
        var strong = Run(new SinglePathConfig { Lambda = 0.5 });
        Assert.True(strong.PredictedMs < none.PredictedMs, $"lambda 0.5 gave {strong.PredictedMs:F3} ms, lambda 0 gave {none.PredictedMs:F3} ms");
        // a target in the middle of the reachable range is met by the table within +-5%
        var (lo, hi) = table.Range();
        double target = lo + 0.4 * (hi - lo);
        var hit = Run(new SinglePathConfig { TargetMs = target, ControllerEta = 0.05 });
        Assert.InRange(hit.PredictedMs, target * 0.95, target * 1.05);
        Assert.True(hit.Lambda > 0);
    }

    [Fact]
    public void UnreachableTargetSaysTheRange()
    {
        var space = TinySpace();
        var table = MacTable(space);
        var (lo, hi) = table.Range();
        var e = Assert.Throws<TailorException>(() => new SinglePathSearch(space, table, new SinglePathConfig { TargetMs = lo * 0.5 }));
        Assert.Contains($"outside what space 'spnas-fmnist' can reach on this table: {lo:F3} .. {hi:F3} ms", e.Message);
    }

    [SkippableFact]
    public void NonFiniteLossStopsWithAClearMessageAndKeepsTheCheckpoint()
    {
        Skip.If(Fmnist == null, $"Fashion-MNIST not found at {Datasets.FashionMnistSystemDir} (apt install dataset-fashion-mnist)");
        set_num_threads(1);
        var space = TinySpace();
        var table = MacTable(space);
        using var loader = Loader(64, 32);
        string dir = Tmp();
        // one good epoch, then an absurd learning rate in a rerun of the same folder
        new SinglePathSearch(space, table, new SinglePathConfig { Epochs = 1, BatchSize = 32 }).Run(loader, dir, false);
        var ck = File.ReadAllBytes(Path.Combine(dir, SinglePathSearch.CheckpointFile));
        var e = Assert.Throws<TailorException>(() =>
            new SinglePathSearch(space, table, new SinglePathConfig { Epochs = 3, BatchSize = 32, LrPer256 = 1e30 }).Run(loader, dir, resume: true));
        Assert.Contains("non-finite loss at step", e.Message);
        Assert.Contains("lower the learning rate", e.Message);
        Assert.Equal(ck, File.ReadAllBytes(Path.Combine(dir, SinglePathSearch.CheckpointFile))); // the last good checkpoint is untouched
    }

    [Fact]
    public void ProjectionLandsInsideTheBand()
    {
        var space = TinySpace();
        var table = MacTable(space);
        var largest = Enumerable.Range(0, space.LayerCount).Select(l => space.Choices(l).ToList().FindIndex(c => c.Name == "k5_e6")).ToArray();
        var (lo, hi) = table.Range();
        double target = lo + 0.3 * (hi - lo);
        // neighbours: every other candidate, equally (un)confident
        var (choice, flips) = LatencyProjection.Project(largest, table, target, 0.05, (l, cur) => Enumerable.Range(0, space.Choices(l).Count).Where(i => i != cur).Select(i => (i, 1.0)));
        Assert.InRange(table.Predict(choice), target * 0.95, target * 1.05);
        Assert.NotEmpty(flips);
    }
}
