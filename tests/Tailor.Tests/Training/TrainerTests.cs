using Tailor.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Tests.Training;

[Collection("serial")]
public class TrainerTests
{
    static TrainConfig Cfg(string optimizer, int epochs = 2) => new()
    {
        Epochs = epochs, BatchSize = 32, Optimizer = optimizer, Seed = 5, WarmupEpochs = 0.5,
        Lr = optimizer == "adam" ? 0.003 : optimizer.StartsWith("rmsprop") ? 0.005 : 0.1,
        WeightDecay = 1e-4, LabelSmoothing = 0.1,
    };

    [Fact]
    public void LearnsTheSyntheticTask()
    {
        using var s = Kit.Build(Cfg("sgd", 6) with { WarmupEpochs = 0 }, 400);
        var h = s.Trainer.Fit();
        Assert.Equal(6, h.Count);
        Assert.True(h[^1].TrainLoss < h[0].TrainLoss, $"loss {h[0].TrainLoss} -> {h[^1].TrainLoss}");
        Assert.True(h[^1].ValAcc > 0.3, $"val acc {h[^1].ValAcc}");
        var ev = Trainer.Evaluate(s.Net, s.Val);
        Assert.Equal(h[^1].ValAcc!.Value, ev.Accuracy, 12);
        Assert.Equal(100, ev.Count);
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("rmsprop")]
    [InlineData("rmsprop-tf")]
    [InlineData("adam")]
    public void ResumingAfterEpochOneIsBitIdentical(string optimizer)
    {
        var cfg = Cfg(optimizer);
        byte[] full; List<EpochMetrics> fullHist;
        using (var a = Kit.Build(cfg))
        {
            fullHist = a.Trainer.Fit().ToList();
            full = Kit.StateBytes(a.Net);
        }
        var dir = Tailor.Tests.Data.TestData.TempDir("resume");
        string ck = Path.Combine(dir, "checkpoint.pt");
        using (var b = Kit.Build(cfg))
        {
            b.Trainer.RunEpoch();
            b.Trainer.SaveCheckpoint(ck);
            b.Trainer.RunEpoch(); // a run that went on, to show the checkpoint is a snapshot
        }
        byte[] resumed; List<EpochMetrics> resumedHist;
        using (var c = Kit.Build(cfg))
        {
            torch.manual_seed(12345); // the checkpoint must restore libtorch's RNG (dropout) itself
            c.Trainer.LoadCheckpoint(ck);
            Assert.Equal(1, c.Trainer.State.Epoch);
            resumedHist = c.Trainer.Fit().ToList();
            resumed = Kit.StateBytes(c.Net);
        }
        Assert.Equal(full, resumed);
        Assert.Equal(fullHist.Select(Key), resumedHist.Select(Key));
        Assert.True(fullHist.All(m => double.IsFinite(m.TrainLoss)));
    }

    static (int, double, double, double, double?, double?) Key(EpochMetrics m) => (m.Epoch, m.Lr, m.TrainLoss, m.TrainAcc, m.ValLoss, m.ValAcc);

    [Fact]
    public void SameSeedSameWeightsOtherSeedOtherWeights()
    {
        byte[] Run(long seed)
        {
            using var s = Kit.Build(Cfg("sgd", 1) with { Seed = seed });
            s.Trainer.Fit();
            return Kit.StateBytes(s.Net);
        }
        var a = Run(1);
        Assert.Equal(a, Run(1));
        Assert.NotEqual(a, Run(2));
    }

    [Fact]
    public void HooksSeeEveryStepAndExtraLossesCount()
    {
        using var s = Kit.Build(Cfg("sgd", 1));
        int before = 0, after = 0, progress = 0;
        double lastLr = -1;
        s.Trainer.BeforeOptimizerStep = ctx => { before++; Assert.NotNull(ctx.Loss); Assert.NotNull(ctx.Model.parameters().First().grad); };
        s.Trainer.AfterStep = ctx => { after++; lastLr = ctx.Lr; Assert.Equal(new long[] { 32, 10 }, ctx.Logits.shape); };
        s.Trainer.StepEnd = p => progress++;
        // a constant extra term raises the reported loss by exactly that constant
        s.Trainer.ExtraLosses.Add(ctx => torch.tensor(10f));
        var m = s.Trainer.RunEpoch();
        Assert.Equal(s.Train.BatchCount, before);
        Assert.Equal(before, after);
        Assert.Equal(before, progress);
        Assert.True(m.TrainLoss > 10 && m.TrainLoss < 13, m.TrainLoss.ToString());
        Assert.Equal(s.Trainer.LrAt(s.Trainer.State.Step - 1), lastLr, 12);
    }

    [Fact]
    public void OwnOptimizerAndScheduleArePluggable()
    {
        var cfg = Cfg("sgd", 1) with { Optimizer = "my-own" }; // the name is not used with an optimizer of one's own
        torch.set_num_threads(Environment.ProcessorCount);
        using var net = new Tailor.Models.ConvNet(Kit.TinyArch());
        var d = Tailor.Tests.Data.TestData.Synthetic(64);
        using var loader = new Tailor.Data.DataLoader(d, 16, Tailor.Data.Normalization.Of(d), shuffle: true);
        using var opt = new Tailor.Training.Optimizers.RMSPropTF(net.parameters(), lr: 0.1);
        var t = new Trainer(net, cfg, loader, optimizer: opt) { LrFactor = _ => 0.0 };
        var before = net.parameters().Select(p => p.data<float>().ToArray()).ToList();
        t.RunEpoch();
        Assert.Same(opt, t.Optimizer);
        Assert.Equal(0.0, t.LrAt(0));
        Assert.Equal(before, net.parameters().Select(p => p.data<float>().ToArray()).ToList()); // lr 0: no update
    }

    [Fact]
    public void CustomCriterionReplacesTheLoss()
    {
        using var s = Kit.Build(Cfg("sgd", 1));
        s.Trainer.Criterion = ctx => (ctx.Logits * 0).sum() + 0.5f; // e.g. distillation would go here
        var m = s.Trainer.RunEpoch();
        Assert.Equal(0.5, m.TrainLoss, 6);
    }

    [Fact]
    public void EvaluateRestoresTrainingModeAndRefusesShuffledLoaders()
    {
        using var s = Kit.Build(Cfg("sgd", 1));
        s.Net.train();
        Trainer.Evaluate(s.Net, s.Val);
        Assert.True(s.Net.training);
        Assert.Throws<ArgumentException>(() => Trainer.Evaluate(s.Net, s.Train));
    }
}

public class CheckpointTests
{
    static (Kit.Setup Setup, string Path) Saved()
    {
        var s = Kit.Build(new TrainConfig { Epochs = 2, BatchSize = 32, Seed = 1 });
        s.Trainer.RunEpoch();
        var p = Path.Combine(Tailor.Tests.Data.TestData.TempDir("ck"), "checkpoint.pt");
        s.Trainer.SaveCheckpoint(p, new System.Text.Json.Nodes.JsonObject { ["note"] = "hello" });
        return (s, p);
    }

    [Fact]
    public void HeaderCarriesStateAndMetadata()
    {
        var (s, p) = Saved();
        using var _ = s;
        var h = Checkpoint.ReadHeader(p);
        Assert.Equal(1, h.Epoch);
        Assert.Equal(s.Train.BatchCount, h.Step);
        Assert.Equal(nameof(Tailor.Training.Optimizers.KeptScalarSgd), h.Optimizer);
        Assert.Equal("hello", (string?)h.Meta!["note"]);
        Assert.Equal(s.Trainer.State.History, h.History);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(p)!, ".*tmp*")); // atomic: no temp file left
    }

    [Fact]
    public void FlippedByteIsDetected()
    {
        var (s, p) = Saved();
        using var _ = s;
        var bytes = File.ReadAllBytes(p);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(p, bytes);
        var e = Assert.Throws<TailorException>(() => s.Trainer.LoadCheckpoint(p));
        Assert.Equal($"{p}: corrupt checkpoint (checksum mismatch)", e.Message);
    }

    [Fact]
    public void TruncatedMissingAndForeignFilesAreOneLine()
    {
        var (s, p) = Saved();
        using var _ = s;
        var bytes = File.ReadAllBytes(p);
        File.WriteAllBytes(p, bytes[..(bytes.Length - 1000)]);
        Assert.Contains("corrupt checkpoint (truncated", Assert.Throws<TailorException>(() => Checkpoint.ReadHeader(p)).Message);
        File.Delete(p);
        Assert.Equal($"{p}: checkpoint not found", Assert.Throws<TailorException>(() => Checkpoint.ReadHeader(p)).Message);
        File.WriteAllText(p, "this is not a checkpoint at all");
        Assert.Contains("not a Tailor checkpoint", Assert.Throws<TailorException>(() => Checkpoint.ReadHeader(p)).Message);
    }

    [Fact]
    public void OtherArchitectureIsRefused()
    {
        var (s, p) = Saved();
        using var _ = s;
        torch.manual_seed(0);
        using var other = new Tailor.Models.ConvNet(Kit.TinyArch() with { Head = new Tailor.Arch.Head { Convs = { Tailor.Arch.Block.ConvBnAct(48, 1) } } });
        using var opt = Tailor.Training.Optimizers.Optimizers.Create(new TrainConfig(), other.parameters());
        var e = Assert.Throws<TailorException>(() => Checkpoint.Load(p, other, opt, new TrainState()));
        Assert.Contains("does not match this architecture", e.Message);
    }
}
