using Tailor.Arch;
using Tailor.Training;
using Tailor.Training.Optimizers;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Tailor.Tests.Training;

public class ScheduleTests
{
    [Fact]
    public void CosineWithWarmup()
    {
        var s = LrSchedule.Create("cosine", 0.1, 10, 100, warmupEpochs: 1);
        Assert.Equal(0.1 / 100, s.At(0), 12);
        Assert.Equal(0.1, s.At(99), 12);
        Assert.Equal(0.1, s.At(100), 12);
        Assert.Equal(0.05, s.At(100 + 450), 12);
        Assert.True(s.At(999) < 1e-5);
    }

    [Fact]
    public void StepDecaysEveryStepEpochs()
    {
        var s = LrSchedule.Create("step", 1.0, 9, 10, stepEpochs: 3, gamma: 0.5);
        Assert.Equal(1.0, s.At(29), 12);
        Assert.Equal(0.5, s.At(30), 12);
        Assert.Equal(0.25, s.At(89), 12);
        Assert.Equal(1.0, LrSchedule.Create("constant", 1.0, 9, 10).At(80));
    }

    [Fact]
    public void BadValuesAreRejected()
    {
        Assert.Throws<TailorException>(() => LrSchedule.Create("linear", 1, 9, 10));
        Assert.Throws<TailorException>(() => LrSchedule.Create("cosine", 1, 2, 10, warmupEpochs: 3));
        Assert.Throws<TailorException>(() => new TrainConfig { Epochs = 0 }.Validate());
        Assert.Throws<TailorException>(() => new TrainConfig { Optimizer = "lamb" }.Validate());
        Assert.Throws<TailorException>(() => new TrainConfig { LabelSmoothing = 1 }.Validate());
    }

    // NaN passes "< 0" and ">= 1" alike; each option must still be refused by name
    [Fact]
    public void NaNAndInfinityAreRejectedByName()
    {
        string Msg(Action a) => Assert.Throws<TailorException>(a).Message;
        Assert.Equal("--momentum: expected 0 <= m < 1 (got NaN)", Msg(() => new TrainConfig { Momentum = double.NaN }.Validate()));
        Assert.Equal("--weight-decay: expected >= 0 (got NaN)", Msg(() => new TrainConfig { WeightDecay = double.NaN }.Validate()));
        Assert.Equal("--weight-decay: expected >= 0 (got Infinity)", Msg(() => new TrainConfig { WeightDecay = double.PositiveInfinity }.Validate()));
        Assert.StartsWith("--label-smoothing:", Msg(() => new TrainConfig { LabelSmoothing = double.NaN }.Validate()));
        Assert.Equal("--warmup-epochs: expected >= 0 (got NaN)", Msg(() => LrSchedule.Create("cosine", 1, 9, 10, warmupEpochs: double.NaN)));
        Assert.Equal("--step-epochs: expected > 0 (got NaN)", Msg(() => LrSchedule.Create("step", 1, 9, 10, stepEpochs: double.NaN)));
        Assert.StartsWith("--gamma:", Msg(() => LrSchedule.Create("step", 1, 9, 10, gamma: double.NaN)));
    }
}

public class RMSPropTFTests
{
    [Fact]
    public void FollowsTheTensorFlowUpdate()
    {
        using var scope = NewDisposeScope();
        var p = new Parameter(torch.tensor(new float[] { 1.0f, -2.0f, 0.5f }));
        var opt = new RMSPropTF(new[] { p }, lr: 0.1, decay: 0.9, momentum: 0.9, eps: 1e-3, weight_decay: 0.01);
        double[] x = { 1.0, -2.0, 0.5 }, ms = { 1, 1, 1 }, mom = { 0, 0, 0 };
        double[] lrs = { 0.1, 0.05, 0.2, 0.1 };
        foreach (var lr in lrs)
        {
            foreach (var g in opt.ParamGroups) g.LearningRate = lr;
            opt.zero_grad();
            (p * p * 0.5f).sum().backward(); // grad = p
            opt.step();
            for (int i = 0; i < 3; i++)
            {
                double g = x[i] + 0.01 * x[i];
                ms[i] = 0.9 * ms[i] + 0.1 * g * g;
                mom[i] = 0.9 * mom[i] + lr * g / Math.Sqrt(ms[i] + 1e-3);
                x[i] -= mom[i];
            }
        }
        var got = p.data<float>().ToArray();
        for (int i = 0; i < 3; i++) Assert.Equal(x[i], got[i], 5);
    }

    [Fact]
    public void StateRoundTrips()
    {
        using var scope = NewDisposeScope();
        var p = new Parameter(torch.tensor(new float[] { 1.0f, -2.0f }));
        var a = new RMSPropTF(new[] { p });
        (p * p).sum().backward();
        a.step();
        var ms = new MemoryStream();
        a.save_state_dict(new BinaryWriter(ms));
        var q = new Parameter(torch.tensor(new float[] { 0f, 0f }));
        var b = new RMSPropTF(new[] { q });
        ms.Position = 0;
        b.load_state_dict(new BinaryReader(ms));
        Assert.True(a.state_dict().State[0].ApproximatelyEquals(b.state_dict().State[0]));
        Assert.Equal(1, ((RMSPropTF.State)b.state_dict().State[0]).step);
    }

    [Fact]
    public void FactoryOffersAllKinds()
    {
        using var scope = NewDisposeScope();
        var p = new Parameter(torch.zeros(2));
        foreach (var k in Optimizers.Kinds)
            Assert.NotNull(Optimizers.Create(new TrainConfig { Optimizer = k }, new[] { p }));
        Assert.IsType<RMSPropTF>(Optimizers.Create(new TrainConfig { Optimizer = "rmsprop-tf" }, new[] { p }));
    }
}

public class TensorBoardTests
{
    [Fact]
    public void Crc32CKnownValue()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void EventFileRoundTripsAndTruncates()
    {
        var dir = Tailor.Tests.Data.TestData.TempDir("tb");
        string name = EventFileWriter.NewFileName();
        Assert.StartsWith("events.out.tfevents.", name);
        string p = Path.Combine(dir, name);
        long mark;
        using (var w = new EventFileWriter(p))
        {
            w.AddScalars(new[] { ("train/loss", 2.5), ("val/acc", 0.25) }, 10, 1000.0);
            w.Flush();
            mark = w.Length;
            w.AddScalar("train/loss", 1.5, 20, 1001.0);
        }
        var ev = EventFileWriter.Read(p);
        Assert.Equal("brain.Event:2", ev[0].FileVersion);
        Assert.Equal(3, ev.Count);
        Assert.Equal(10, ev[1].Step);
        Assert.Equal(1000.0, ev[1].WallTime);
        Assert.Equal(new[] { ("train/loss", 2.5f), ("val/acc", 0.25f) }, ev[1].Scalars);
        Assert.Equal(("train/loss", 1.5f), ev[2].Scalars.Single());
        using (var w = new EventFileWriter(p, truncateTo: mark)) w.AddScalar("train/loss", 1.25, 20, 1002.0);
        ev = EventFileWriter.Read(p);
        Assert.Equal(3, ev.Count);
        Assert.Equal(1.25f, ev[2].Scalars.Single().Value);
        // a damaged record is caught by the CRC
        var bytes = File.ReadAllBytes(p);
        bytes[^6] ^= 1;
        File.WriteAllBytes(p, bytes);
        Assert.Throws<InvalidDataException>(() => EventFileWriter.Read(p));
    }
}

public class WidthScalingTests
{
    [Fact]
    public void MobileNetV2HalfWidthIsTorchvisionsLayout()
    {
        var a = WidthScaling.Scale(Zoo.Get("mobilenet_v2"), 0.5);
        Assert.Equal("mobilenet_v2_w0.5", a.Name);
        Assert.Equal(16, a.Stem[0].Out);
        // torchvision mobilenet_v2(width_mult=0.5): _make_divisible(c * 0.5, 8) per stage, last channel stays 1280
        Assert.Equal(new[] { 8, 16, 16, 16, 16, 16, 32, 32, 32, 32, 48, 48, 48, 80, 80, 80, 160 }, a.Blocks.Select(b => b.Out));
        Assert.Equal(1280, a.Head.Convs[0].Out);
        Assert.Equal(1_968_680, ArchAnalysis.Analyze(a).Params); // torchvision mobilenet_v2(width_mult=0.5), 1000 classes
        Assert.Same(a, WidthScaling.Scale(a, 1.0));
    }

    [Fact]
    public void WiderNetsWidenTheHeadToo()
    {
        var a = WidthScaling.Scale(Zoo.Get("mobilenet_v2"), 1.4);
        Assert.Equal(48, a.Stem[0].Out);
        Assert.Equal(1792, a.Head.Convs[0].Out);
        Assert.Throws<TailorException>(() => WidthScaling.Scale(a, 0));
    }
}
