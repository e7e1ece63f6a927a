using Tailor.Models.Cells;
using Tailor.Search.Differentiable;
using static TorchSharp.torch;

namespace Tailor.Tests.Cells;

[Collection("serial")]
public class CellSearchTests
{
    static string AlphaCsv(string dir) => File.ReadAllText(Path.Combine(dir, "alpha_history.csv"));

    [SkippableFact]
    public void SameSeedSameSearchAndOutputsAreWritten()
    {
        var table = CellTestKit.TableOrSkip();
        string a = CellTestKit.TempDir(), b = CellTestKit.TempDir();
        var o = CellTestKit.Tiny("darts");
        CellSearchResult ra, rb;
        using (var s = new CellSearch(o, CellTestKit.Images(), table, a)) ra = s.Run();
        using (var s = new CellSearch(o, CellTestKit.Images(), table, b)) rb = s.Run();
        Assert.Equal(AlphaCsv(a), AlphaCsv(b));
        Assert.Equal(ra.Genotype, rb.Genotype);
        foreach (var f in new[] { "genotype.txt", "summary.json", "network.json", "epochs.csv", "alpha_history.csv", "alpha.png", "skip.png", "accuracy.png" })
            Assert.True(File.Exists(Path.Combine(a, f)), f);
        Assert.Equal(ra.Genotype + "\n", File.ReadAllText(Path.Combine(a, "genotype.txt")));
        Assert.NotNull(ra.TableTest);
        Assert.Equal(table.Lookup(Nb201Cell.Parse(ra.Genotype)).Test, ra.TableTest);
        Assert.Equal(4, AlphaCsv(a).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length - 1); // 2 epochs x 2 alpha steps
        Assert.Equal(87.06, ra.RandomTestMean!.Value, 2);
        var net = CellNetJson.Parse(ra.NetworkJson);
        Assert.Equal(ra.Genotype, net.Stages[0].Cell);
        Assert.Empty(Directory.GetFiles(a, ".*", SearchOption.AllDirectories)); // no temp files left
    }

    [SkippableFact]
    public void AResumedSearchContinuesExactlyAsAnUninterruptedOne()
    {
        var table = CellTestKit.TableOrSkip();
        string full = CellTestKit.TempDir(), cut = CellTestKit.TempDir();
        var o = CellTestKit.Tiny("gdas") with { Epochs = 3 };
        using (var s = new CellSearch(o, CellTestKit.Images(), table, full)) s.Run();
        using (var cts = new CancellationTokenSource())
        using (var s = new CellSearch(o, CellTestKit.Images(), table, cut) { Cancel = cts.Token })
        {
            s.EpochDone = e => { if (e.Epoch == 1) cts.Cancel(); };
            Assert.Throws<OperationCanceledException>(() => s.Run());
        }
        Assert.Contains("\"epochs_done\": 1", File.ReadAllText(Path.Combine(cut, "checkpoint", "state.json")));
        // a second run into the same folder needs --resume (nothing is overwritten)
        Assert.Contains("--resume", Assert.Throws<TailorException>(() => new CellSearch(o, CellTestKit.Images(), table, cut)).Message);
        using (var s = new CellSearch(o, CellTestKit.Images(), table, cut, resume: true)) s.Run();
        Assert.Equal(AlphaCsv(full), AlphaCsv(cut));
        Assert.Equal(File.ReadAllText(Path.Combine(full, "genotype.txt")), File.ReadAllText(Path.Combine(cut, "genotype.txt")));
    }

    [SkippableFact]
    public void AllMethodsRunOnTheNb201SpaceAndDeriveValidCells()
    {
        var table = CellTestKit.TableOrSkip();
        foreach (var o in new[]
                 {
                     CellTestKit.Tiny("darts") with { SecondOrder = true, Epochs = 1 },
                     CellTestKit.Tiny("msg-das") with { K = 3, Distill = 1, Epochs = 1 },
                     CellTestKit.Tiny("hdas") with { Epochs = 1 },
                     CellTestKit.Tiny("darts") with { LatencyLambda = 0.05, Epochs = 1 },
                 })
        {
            using var s = new CellSearch(o, CellTestKit.Images(), table, null);
            var r = s.Run();
            Assert.NotNull(r.TableTest);
            if (o.Method == "hdas") { Assert.Equal(3, r.StageCells!.Count); Assert.Equal(3, r.Genotype.Split(DerivedCells.CellSeparator).Length); }
            else Nb201Cell.Parse(r.Genotype);
            if (o.LatencyLambda > 0) { Assert.NotNull(r.LatencyPredictor); Assert.NotNull(s.State.Epochs[^1].PredictedLatency); }
        }
    }

    [SkippableFact]
    public void DartsPtProjectsEveryEdgeByThePerturbationItMeasures()
    {
        var table = CellTestKit.TableOrSkip();
        foreach (bool fix in new[] { false, true })
        {
            var o = CellTestKit.Tiny("darts-pt") with { FixAlpha = fix, Epochs = 1, PtTuneSteps = 2, PtEvalBatches = 2 };
            using var s = new CellSearch(o, CellTestKit.Images(), table, null);
            var r = s.Run();
            Assert.Equal(6, r.Projections!.Count);
            Assert.Equal(Enumerable.Range(0, 6), r.Projections.Select(p => p.Target).OrderBy(x => x)); // each edge once
            var cell = Nb201Cell.Parse(r.Genotype);
            foreach (var p in r.Projections)
            {
                Assert.Equal(5, p.AccuracyWithout.Length);
                // the kept op is one whose removal hurt most
                Assert.Equal(p.AccuracyWithout.Min(), p.AccuracyWithout[Array.IndexOf(p.Candidates, p.Selected[0])]);
                Assert.Equal(p.Selected[0], cell.Ops[p.Target]);
                // removing 'none' changes nothing: its accuracy is the supernet's own
                Assert.Equal(p.BaseAccuracy, p.AccuracyWithout[0]);
            }
            if (fix) { Assert.Null(r.MagnitudeGenotype); Assert.Equal(0, r.ArchSteps); }
            else Assert.NotNull(r.Magnitude);
        }
    }

    [Fact]
    public void DartsSpaceSearchesDeriveTwoDistinctInputsPerNodeAndATrainableNetwork()
    {
        foreach (var o in new[]
                 {
                     CellTestKit.Tiny("darts", "darts") with { Epochs = 1, C = 2, StepsPerEpoch = 1 },
                     CellTestKit.Tiny("gdas", "darts") with { Epochs = 1, C = 2, StepsPerEpoch = 1 },
                     CellTestKit.Tiny("darts-pt", "darts") with { Epochs = 1, C = 2, StepsPerEpoch = 1, PtEvalBatches = 1, PtTuneSteps = 0, Batch = 8 },
                 })
        {
            using var s = new CellSearch(o, CellTestKit.Images(hw: 16), null, null);
            var r = s.Run();
            var g = DartsGenotype.Parse(r.Genotype);
            foreach (var cell in new[] { g.Normal, g.Reduce })
                for (int n = 0; n < 4; n++)
                {
                    Assert.NotEqual(cell.Nodes[2 * n].Input, cell.Nodes[2 * n + 1].Input);
                    Assert.InRange(cell.Nodes[2 * n].Op, 1, 7);
                }
            Assert.True(r.Checks!.TwoInputs);
            if (o.Method == "darts-pt")
            {
                Assert.Equal(2 * 14, r.Projections!.Count(p => p.Kind == "op"));
                Assert.Equal(2 * 4, r.Projections!.Count(p => p.Kind == "topology"));
                foreach (var p in r.Projections!.Where(p => p.Kind == "topology"))
                {
                    var cell = p.Group == 0 ? g.Normal : g.Reduce;
                    Assert.Equal(p.Selected, new[] { cell.Nodes[2 * p.Target].Input, cell.Nodes[2 * p.Target + 1].Input });
                }
            }
            var spec = CellNetJson.Parse(r.NetworkJson);
            Assert.Equal(20, spec.Stages.Sum(x => x.Cells) + 2);
        }
    }

    [Fact]
    public void HdasStageSearchLowersTheExpectedDepthAndDerivesAStageDag()
    {
        var o = CellTestKit.Tiny("hdas", "darts") with { Epochs = 1, C = 2, HdasStageEpochs = 3, HdasMaxCells = 3, HdasWindow = 2, HdasDepthLambda = 2, HdasStageArchLr = 0.05, StepsPerEpoch = 3 };
        using var s = new CellSearch(o, CellTestKit.Images(hw: 16), null, null);
        var r = s.Run();
        Assert.Equal(5, r.Genotype.Split(DerivedCells.CellSeparator).Length); // 3 stage cells + 2 reduction cells
        var stage = s.State.Epochs.Where(e => e.Phase == "stage").ToList();
        Assert.Equal(3, stage.Count);
        for (int i = 1; i < stage.Count; i++)
        {
            Assert.True(stage[i].DepthLoss < stage[i - 1].DepthLoss, $"depth loss {stage[i].DepthLoss} after {stage[i - 1].DepthLoss}");
            Assert.True(stage[i].ExpectedDepth!.Sum() < stage[i - 1].ExpectedDepth!.Sum());
        }
        var spec = CellNetJson.Parse(r.NetworkJson, "hdas");
        Assert.Equal(3, spec.Stages.Count);
        Assert.Equal(4, spec.StemMultiplier);
        foreach (var st in spec.Stages)
        {
            Assert.InRange(st.Cells, 1, 3);
            Assert.Equal(st.Cells, st.S0!.Count);
            Assert.Equal(-1, st.S0[0]);
            for (int j = 2; j <= st.Cells; j++) Assert.InRange(st.S0[j - 1], Math.Max(0, j - 3), j - 2); // inside the window
        }
        // the derived network trains: one SGD step lowers nothing in particular but runs forward and backward
        using var scope = NewDisposeScope();
        using var net = CellNetworks.Build(spec);
        var y = net.call(randn(2, 3, 16, 16));
        Assert.Equal(new long[] { 2, 10 }, y.shape);
        nn.functional.cross_entropy(y, tensor(new long[] { 1, 2 })).backward();
        Assert.Equal(CellNetCount.Count(spec).Params, CellNetworks.ParameterCount(net));
    }

    [Fact]
    public void NanInAlphaStopsWithAOneLineErrorAndKeepsTheCheckpoint()
    {
        string dir = CellTestKit.TempDir();
        var o = CellTestKit.Tiny("darts", "darts") with { Epochs = 3, C = 2, StepsPerEpoch = 1 };
        using var s = new CellSearch(o, CellTestKit.Images(hw: 16), null, dir);
        s.EpochDone = e => { if (e.Epoch == 1) using (no_grad()) s.Arch.Alphas[0][3, 2] = tensor(float.NaN); };
        var ex = Assert.Throws<TailorException>(() => s.Run());
        Assert.Contains("NaN", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Contains("\"epochs_done\": 1", File.ReadAllText(Path.Combine(dir, "checkpoint", "state.json")));
    }

    [Fact]
    public void SpaceDataMismatchIsRefused()
    {
        var gray = CellTestKit.Images(48, c: 1, hw: 28);
        var e = Assert.Throws<TailorException>(() => CellSearch.CheckData(CellTestKit.Tiny("darts"), gray));
        Assert.Contains("3x32x32", e.Message);
        Assert.Contains("1x28x28", e.Message);
        Assert.Throws<TailorException>(() => CellSearch.CheckData(CellTestKit.Tiny("darts", "darts"), CellTestKit.Images(48, hw: 30)));
        Assert.Contains("needs 48 + 48", Assert.Throws<TailorException>(() => new CellSearch(CellTestKit.Tiny("darts", "darts"), CellTestKit.Images(60), null, null)).Message);
    }
}
