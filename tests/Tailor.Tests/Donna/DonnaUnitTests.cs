using Microsoft.Data.Sqlite;
using Tailor.Arch;
using Tailor.Models;
using Tailor.Search.Donna;
using Tailor.Tests.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Tests.Donna;

/// <summary>The experiment store and the accuracy predictor (no libtorch).</summary>
public class DonnaStoreTests
{
    [Fact]
    public void JobsAreClaimedOnceAndKilledJobsAreReclaimed()
    {
        string dir = TestData.TempDir("donna-store");
        using (var s = ExperimentStore.Open(dir, create: true))
        {
            s.Ensure("bkd/b0/c0", "bkd", 0, 0);
            s.Ensure("bkd/b0/c1", "bkd", 0, 1);
            s.Ensure("bkd/b0/c0", "bkd", 0, 0); // idempotent
            Assert.Equal(2, s.Jobs("bkd").Count);
            Assert.True(s.TryClaim("bkd/b0/c0"));
            Assert.False(s.TryClaim("bkd/b0/c0")); // we hold it
            s.Complete("bkd/b0/c0", new System.Text.Json.Nodes.JsonObject { ["nsr"] = 0.25, ["nan"] = double.NaN }, 1.5);
            Assert.False(s.TryClaim("bkd/b0/c0")); // done jobs are never redone
            var j = s.Get("bkd/b0/c0")!;
            Assert.Equal(JobStatus.Done, j.Status);
            Assert.Equal(0.25, DonnaConfig.Num(j.Result!["nsr"]));
            Assert.True(double.IsNaN(DonnaConfig.Num(j.Result!["nan"])));

            var r = s.RunJob("bkd/b0/c1", () => throw new JobFailedException("diverged"));
            Assert.Equal(JobStatus.Failed, r!.Status);
            Assert.Equal("diverged", r.Error);
            Assert.False(s.TryClaim("bkd/b0/c1"));
            Assert.True(s.TryClaim("bkd/b0/c1", retryFailed: true));
            s.Release("bkd/b0/c1");
            Assert.Equal(JobStatus.Pending, s.Get("bkd/b0/c1")!.Status);
        }
        // a job left running by a process that is gone (killed) is claimed again
        using (var db = new SqliteConnection($"Data Source={Path.Combine(dir, ExperimentStore.FileName)};Pooling=False"))
        {
            db.Open();
            using var c = db.CreateCommand();
            c.CommandText = $"UPDATE jobs SET status = 'running', owner = '{Environment.MachineName}:999999999:1', attempts = 1 WHERE key = 'bkd/b0/c1'";
            Assert.Equal(1, c.ExecuteNonQuery());
        }
        using (var s = ExperimentStore.Open(dir, create: false))
        {
            Assert.False(ExperimentStore.OwnerAlive(s.Get("bkd/b0/c1")!.Owner));
            Assert.True(ExperimentStore.OwnerAlive(ExperimentStore.SelfOwner));
            Assert.True(s.TryClaim("bkd/b0/c1"));
            Assert.Equal(2, s.Get("bkd/b0/c1")!.Attempts);
        }
    }

    [Fact]
    public void CorruptStoreIsReportedAndLeftAlone()
    {
        string dir = TestData.TempDir("donna-corrupt");
        string path = Path.Combine(dir, ExperimentStore.FileName);
        var junk = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("this is not an sqlite database ", 200)));
        File.WriteAllBytes(path, junk);
        var e = Assert.Throws<TailorException>(() => ExperimentStore.Open(dir, create: true));
        Assert.Contains("corrupt experiment store", e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.Equal(junk, File.ReadAllBytes(path));

        // a valid SQLite file that is not a DONNA store
        string dir2 = TestData.TempDir("donna-foreign");
        using (var db = new SqliteConnection($"Data Source={Path.Combine(dir2, ExperimentStore.FileName)};Pooling=False"))
        {
            db.Open();
            using var c = db.CreateCommand();
            c.CommandText = "CREATE TABLE t (x INTEGER)";
            c.ExecuteNonQuery();
        }
        var e2 = Assert.Throws<TailorException>(() => ExperimentStore.Open(dir2, create: false));
        Assert.Contains("not a DONNA experiment store", e2.Message);

        var e3 = Assert.Throws<TailorException>(() => ExperimentStore.Open(TestData.TempDir("donna-none"), create: false));
        Assert.Contains("no experiment store", e3.Message);
    }

    [Fact]
    public void RidgePredictorRanksALinearTargetAndReportsLeaveOneOut()
    {
        var rng = new Random(5);
        var x = new List<double[]>();
        var y = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            var q = new[] { rng.NextDouble(), rng.NextDouble(), rng.NextDouble() };
            x.Add(q);
            y.Add(0.9 - 0.2 * q[0] - 0.1 * q[1] - 0.05 * q[2] + 0.002 * (rng.NextDouble() - 0.5));
        }
        var p = AccuracyPredictor.Fit(x, y, 1e-6);
        Assert.InRange(p.Predict(new[] { 0.5, 0.5, 0.5 }), 0.725 - 0.003, 0.725 + 0.003);
        var loo = AccuracyPredictor.LeaveOneOut(x, y, 1e-3);
        Assert.True(loo.KendallTau > 0.9, $"tau {loo.KendallTau}");
        Assert.True(loo.Mse < 1e-5, $"mse {loo.Mse}");
        Assert.Equal(20, loo.Predicted.Length);
        // strong ridge shrinks towards the mean
        var flat = AccuracyPredictor.Fit(x, y, 1e6);
        Assert.InRange(flat.Predict(x[0]) - y.Average(), -1e-3, 1e-3);
        Assert.Throws<TailorException>(() => AccuracyPredictor.LeaveOneOut(x.Take(2).ToList(), y.Take(2).ToList(), 0.1));
    }

    [Fact]
    public void PredictorWarningNamesTheCauseOrStaysQuiet()
    {
        // the default CIFAR-10-subset experiment's figures: 800 validation images cannot rank 24 networks
        var noisy = DonnaExperiment.PredictorWarning(0.01, 0.39, 800, 24);
        Assert.NotNull(noisy);
        Assert.Contains("800 validation images", noisy);
        Assert.Contains("--val-split", noisy);
        var weak = DonnaExperiment.PredictorWarning(0.2, 0.87, 18000, 48);
        Assert.NotNull(weak);
        Assert.Contains("tau 0.20", weak);
        Assert.Null(DonnaExperiment.PredictorWarning(0.73, 0.87, 18000, 48));
    }

    [Fact]
    public void NoiseCeilingFallsWhenAccuraciesDifferByLessThanTheirSamplingNoise()
    {
        var wide = Enumerable.Range(0, 24).Select(i => 0.5 + 0.01 * i).ToList();   // 1-point steps
        var narrow = Enumerable.Range(0, 24).Select(i => 0.5 + 0.001 * i).ToList(); // 0.1-point steps
        double many = AccuracyPredictor.NoiseCeilingTau(wide, 100_000, 1);
        double few = AccuracyPredictor.NoiseCeilingTau(wide, 400, 1);
        double none = AccuracyPredictor.NoiseCeilingTau(narrow, 400, 1);
        Assert.InRange(many, 0.97, 1.0);  // se 0.16 points << 1-point steps
        Assert.InRange(few, 0.6, 0.92);   // se 2.5 points vs 1-point steps
        Assert.InRange(none, 0.0, 0.35);  // se 2.5 points vs 0.1-point steps
        Assert.Equal(few, AccuracyPredictor.NoiseCeilingTau(wide, 400, 1)); // seeded
    }

    [Fact]
    public void ConfigCutsAndDifferences()
    {
        Assert.Equal(new[] { (0, 3), (3, 6) }, DonnaConfig.ParseCuts("0,3,6")!.ToArray());
        Assert.Throws<TailorException>(() => DonnaConfig.ParseCuts("3,1"));
        Assert.Throws<TailorException>(() => DonnaConfig.ParseCuts("0"));
        var a = new DonnaConfig();
        Assert.Empty(DonnaConfig.Differences(a, DonnaConfig.FromJson(a.ToJson(), "test")));
        var d = DonnaConfig.Differences(a with { BkdEpochs = 9 }, a).Single();
        Assert.Contains($"bkd-epochs: 9 here, {a.BkdEpochs} in the experiment", d);
        Assert.Throws<TailorException>(() => DonnaConfig.FromJson("{not json", "x"));
        Assert.Throws<TailorException>(() => (a with { LibrarySize = 2 }).Validate());
    }
}

/// <summary>Candidate blocks, NSR and assembly from BKD weights (libtorch: serial).</summary>
[Collection("serial")]
public class DonnaModelTests
{
    internal static Architecture Teacher() => new()
    {
        Name = "donna-tiny",
        Input = new InputShape(3, 32, 32),
        Classes = 10,
        Stem = { Block.ConvBnAct(8, 3, 2) },
        Blocks = { Block.MBConv(8, 3, 2, 1), Block.MBConv(16, 3, 2, 2), Block.MBConv(16, 3, 2, 1), Block.MBConv(24, 3, 2, 2) },
        Head = new Head { Convs = { Block.ConvBnAct(32, 1) }, Dropout = 0.1 },
    };

    [Fact]
    public void NsrIsZeroForTheTeacherAndOneForItsChannelMeans()
    {
        using var _ = torch.NewDisposeScope();
        torch.manual_seed(1);
        var y = torch.randn(8, 4, 5, 5) * torch.tensor(new float[] { 1, 2, 3, 4 }).view(1, 4, 1, 1);
        var v = y.var(new long[] { 0, 2, 3 }, unbiased: false);
        Assert.Equal(0, Nsr.Loss(y, y, v).item<float>(), 6);
        var mean = y.mean(new long[] { 0, 2, 3 }, keepdim: true).expand_as(y);
        Assert.Equal(1, Nsr.Loss(mean, y, v).item<float>(), 4);
    }

    [Fact]
    public void AssembledNetworkCarriesTeacherAndBkdWeights()
    {
        string dir = TestData.TempDir("donna-assembly");
        var teacherArch = Teacher();
        var grid = BlockGrid.Parse("kernels=3,5;expansions=2;depths=1,2;se=0,1;acts=relu;widths=0.5,1");
        var space = new BlockSpace("t", teacherArch, BlockSpace.StrideCuts(teacherArch), grid);
        Assert.Equal(3, space.BlockCount);
        torch.manual_seed(3);
        using var teacher = new ConvNet(teacherArch);
        var shapes = TeacherFeatures.BoundaryShapes(space);
        Assert.Equal(new[] { "8x16x16", "8x16x16", "16x8x8", "24x4x4" }, shapes.Select(s => s.ToString()));
        // choice: block 0 = k5 e2 d2 se w1, block 1 = a half-width option (adapter in BKD, sliced into the next block), block 2 = first option
        int c0 = space.Options.ToList().FindIndex(o => o is { Kernel: 5, Depth: 2, Se: true, Width: 1.0 });
        int c1 = space.Options.ToList().FindIndex(o => o is { Kernel: 3, Depth: 1, Se: false, Width: 0.5 });
        var choice = new[] { c0, c1, 0 };
        var cands = new List<CandidateBlock>();
        for (int n = 0; n < 3; n++)
        {
            var cb = new CandidateBlock(space, n, space.Options[choice[n]], shapes[n]);
            using (torch.no_grad())   // trained-looking BN statistics and adapter biases, so that a fold that drops a term shows
                foreach (var (k, t) in cb.state_dict())
                    if (k.EndsWith("running_mean") || k == "adapter.bias") t.copy_(torch.randn_like(t));
                    else if (k.EndsWith("running_var")) t.copy_(torch.rand_like(t).add_(0.5));
            Directory.CreateDirectory(Path.Combine(dir, "bkd"));
            Weights.Save(cb, BkdTrainer.WeightsPath(dir, n, choice[n]));
            cands.Add(cb);
        }
        Assert.True(cands[1].HasAdapter);
        Assert.False(cands[0].HasAdapter);
        // the candidate maps the teacher's input shape to the teacher's output shape
        using (torch.NewDisposeScope())
        {
            var x = torch.randn(2, shapes[1].Channels, shapes[1].Height, shapes[1].Width);
            Assert.Equal(new long[] { 2, 16, 8, 8 }, cands[1].call(x).shape);
            Assert.Equal(new long[] { 2, 8, 8, 8 }, cands[1].Features(x).shape);
        }
        using var net = new ConvNet(space.Build(choice));
        Assert.True(cands[2].HasAdapter, "option 0 is a half-width one");
        var (whole, partial, folded) = Assembly.Load(net, space, choice, teacher, dir);
        // blocks 1 and 2 are half width: their adapters fold into block 2's expansion conv and into the head's 1x1 conv (weight + BN mean each);
        // block 2 is narrower inside (8 x 2 instead of 16 x 2 channels), so the rest of its first layer takes leading slices
        Assert.Equal(4, folded);
        Assert.True(partial > 0);
        Assert.True(whole > folded);
        var sd = net.state_dict();
        var td = teacher.state_dict();
        Assert.True(sd["stem.0.conv.weight"].eq(td["stem.0.conv.weight"]).all().item<bool>());
        Assert.True(sd["classifier.weight"].eq(td["classifier.weight"]).all().item<bool>());
        var c0d = cands[0].state_dict();
        Assert.True(sd["blocks.1.se.conv_reduce.weight"].eq(c0d["layers.1.se.conv_reduce.weight"]).all().item<bool>());
        Assert.True(sd["blocks.2.conv_pwl.weight"].eq(cands[1].state_dict()["layers.0.conv_pwl.weight"]).all().item<bool>());
        using (torch.NewDisposeScope())
        {
            // the folded conv + BN on block 1's narrow output computes what block 2's BKD conv + BN computed on block 1's adapter output
            var c1d = cands[1].state_dict(); var c2d = cands[2].state_dict();
            var h = torch.randn(2, 8, 8, 8);
            Tensor Bn(Tensor x, Dictionary<string, Tensor> d, string p, Tensor mean) =>
                nn.functional.batch_norm(x, mean, d[p + "running_var"], d[p + "weight"], d[p + "bias"], training: false, eps: 1e-5);
            var adapted = nn.functional.conv2d(h, c1d["adapter.weight"], c1d["adapter.bias"]);
            var chain = Bn(nn.functional.conv2d(adapted, c2d["layers.0.conv_pw.weight"]), c2d, "layers.0.bn1.", c2d["layers.0.bn1.running_mean"]);
            Assert.Equal(new long[] { 16, 8, 1, 1 }, sd["blocks.3.conv_pw.weight"].shape);
            Assert.Equal(32, chain.shape[1]);
            chain = chain.narrow(1, 0, 16);
            var fused = Bn(nn.functional.conv2d(h, sd["blocks.3.conv_pw.weight"]), sd, "blocks.3.bn1.", sd["blocks.3.bn1.running_mean"]);
            Assert.True(fused.allclose(chain, rtol: 1e-4, atol: 1e-4), $"max diff {(fused - chain).abs().max().item<float>()}");
            // the depthwise conv after it holds the leading channels of the candidate's
            Assert.True(sd["blocks.3.conv_dw.weight"].eq(c2d["layers.0.conv_dw.weight"].narrow(0, 0, 16)).all().item<bool>());
            // and the same at the head after block 2
            var h2 = torch.randn(2, cands[2].OutChannels, 4, 4);
            var tHead = teacher.state_dict();
            var chain2 = Bn(nn.functional.conv2d(nn.functional.conv2d(h2, c2d["adapter.weight"], c2d["adapter.bias"]), tHead["head.0.conv.weight"]),
                tHead, "head.0.bn.", tHead["head.0.bn.running_mean"]);
            var fused2 = Bn(nn.functional.conv2d(h2, sd["head.0.conv.weight"]), sd, "head.0.bn.", sd["head.0.bn.running_mean"]);
            Assert.True(fused2.allclose(chain2, rtol: 1e-4, atol: 1e-4), $"max diff {(fused2 - chain2).abs().max().item<float>()}");
        }
        foreach (var cb in cands) cb.Dispose();

        // missing BKD weights are named
        File.Delete(BkdTrainer.WeightsPath(dir, 2, 0));
        using var net2 = new ConvNet(space.Build(choice));
        var e = Assert.Throws<TailorException>(() => Assembly.Load(net2, space, choice, teacher, dir));
        Assert.Contains("block 2 candidate 0", e.Message);
    }
}

[Collection("serial")]
public class DonnaLossTests
{
    [Fact]
    public void DistillationLossIsKlPlusCrossEntropy()
    {
        using var _ = torch.NewDisposeScope();
        var s = torch.tensor(new float[] { 2, 0, -1, 0.5f, 0.5f, 0 }).view(2, 3);
        var t = torch.tensor(new float[] { 1, 1, 0, 0, 2, -2 }).view(2, 3);
        var y = torch.tensor(new long[] { 0, 1 });
        // alpha 1: T^2 * mean_i sum_c q log(q/p), by hand
        double kl = 0;
        var sa = s.data<float>().ToArray(); var ta = t.data<float>().ToArray();
        for (int i = 0; i < 2; i++)
        {
            double T = 2;
            var p = Enumerable.Range(0, 3).Select(c => Math.Exp(sa[i * 3 + c] / T)).ToArray(); double zp = p.Sum();
            var q = Enumerable.Range(0, 3).Select(c => Math.Exp(ta[i * 3 + c] / T)).ToArray(); double zq = q.Sum();
            for (int c = 0; c < 3; c++) kl += q[c] / zq * Math.Log(q[c] / zq / (p[c] / zp));
        }
        Assert.Equal(4 * kl / 2, Assembly.KdLoss(s, t, y, 1.0, 2.0).item<float>(), 4);
        Assert.Equal(0, Assembly.KdLoss(t, t, y, 1.0, 2.0).item<float>(), 5);
        Assert.Equal(nn.functional.cross_entropy(s, y).item<float>(), Assembly.KdLoss(s, t, y, 0.0, 2.0).item<float>(), 5);
    }
}
