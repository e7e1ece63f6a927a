using Tailor.Arch;
using Tailor.Models.SinglePath;
using Tailor.Search.SinglePath;
using static TorchSharp.torch;

namespace Tailor.Tests.SinglePath;

public class SuperkernelTests
{
    [Fact]
    public void IndicatorForwardIsHardStepAndGradientIsSigmoidSlope()
    {
        using var scope = NewDisposeScope();
        var xs = new float[] { -2f, -0.3f, 0f, 0.4f, 3f };
        var x = tensor(xs, requires_grad: true);
        var y = Indicator.StraightThrough(x);
        Assert.Equal(new float[] { 0, 0, 1, 1, 1 }, y.data<float>().ToArray());
        y.sum().backward();
        var g = x.grad!.data<float>().ToArray();
        for (int i = 0; i < xs.Length; i++)
        {
            // finite difference of the surrogate sigmoid
            double h = 1e-3, fd = (1 / (1 + Math.Exp(-(xs[i] + h))) - 1 / (1 + Math.Exp(-(xs[i] - h)))) / (2 * h);
            Assert.Equal(fd, g[i], 4);
        }
    }

    [Fact]
    public void IndicatorDropoutKeepsAndScales()
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(7);
        var d = ones(10000);
        var o = Indicator.Dropout(d, 0.6, gen).data<float>().ToArray();
        Assert.All(o, v => Assert.True(v == 0f || Math.Abs(v - 1 / 0.6f) < 1e-5));
        Assert.InRange(o.Count(v => v > 0) / 10000.0, 0.57, 0.63);
    }

    [Fact]
    public void ThresholdsStartAtZeroSoTheSearchStartsFromTheLargestOp()
    {
        using var scope = NewDisposeScope();
        var sk = new Superkernel(4, new[] { 3, 5 }, new[] { 3, 6 }, 1, skippable: true);
        Assert.Equal(new float[] { 0 }, sk.KernelThresholds.data<float>().ToArray());
        Assert.Equal(new float[] { 0, 0 }, sk.ExpandThresholds.data<float>().ToArray());
        Assert.Equal((5, 6, false), sk.Decode());
        Assert.Equal(new long[] { 24, 1, 5, 5 }, sk.Weight.shape);
        // init std sqrt(2/25)
        Assert.InRange(sk.Weight.std().item<float>(), 0.24, 0.33);
    }

    [Theory]
    // (kernel, expansion, skip) -> paper's [d5, d50, d100]
    [InlineData(3, 3, false, 0, 1, 0)]
    [InlineData(3, 6, false, 0, 1, 1)]
    [InlineData(5, 3, false, 1, 1, 0)]
    [InlineData(5, 6, false, 1, 1, 1)]
    [InlineData(5, 6, true, 1, 0, 0)]
    public void DecodingTableAndMasks(int k, int e, bool skip, int d5, int d50, int d100)
    {
        using var scope = NewDisposeScope();
        var sk = new Superkernel(2, new[] { 3, 5 }, new[] { 3, 6 }, 1, skippable: true) { Norm = NormMode.Rms };
        sk.ForceDecision(k, e, skip);
        var dec = sk.Compute(dropout: false);
        Assert.Equal(new float[] { d5, d50, d100 }, new[] { dec.Dk[0].item<float>(), dec.De[0].item<float>(), dec.De[1].item<float>() });
        Assert.Equal(skip ? (k, 0, true) : (k, e, false), sk.Decode());
        // the masked weight: ring zero iff 3x3, second half zero iff e=3, all zero iff skip
        var w = dec.Weight;
        var ring = w.clone(); ring[.., .., 1..4, 1..4] = zeros(12, 1, 3, 3);
        bool ringZero = ring.abs().sum().item<float>() == 0;
        bool secondZero = w[6..12].abs().sum().item<float>() == 0;
        bool allZero = w.abs().sum().item<float>() == 0;
        Assert.Equal(skip, allZero);
        if (!skip) { Assert.Equal(k == 3, ringZero); Assert.Equal(e == 3, secondZero); }
        // the channel mask of the exact formulation follows d50 and d100
        var m = sk.ChannelMask(dec.De).data<float>().ToArray();
        Assert.Equal(Enumerable.Repeat((float)d50, 6).Concat(Enumerable.Repeat((float)(d50 * d100), 6)), m);
    }

    [Fact]
    public void SkipOnlyWhereAllowed()
    {
        using var scope = NewDisposeScope();
        var sk = new Superkernel(2, new[] { 3, 5 }, new[] { 3, 6 }, 2, skippable: false);
        using (no_grad()) sk.ExpandThresholds.fill_(1e6f); // would switch every group off
        Assert.Equal((5, 3, false), sk.Decode()); // d50 is fixed to 1: never skip
        var space = Spaces.Get("spnas-cifar");
        using var net = new SinglePathSupernet(space);
        Assert.Equal(space.LayerCount, net.SearchLayers.Count);
        for (int l = 0; l < space.LayerCount; l++)
            Assert.Equal(space.Choices(l).Any(c => c.Name == "skip"), net.SearchLayers[l].Choices.Skippable);
        Assert.False(net.SearchLayers[0].Choices.Skippable);
        Assert.True(net.SearchLayers[1].Choices.Skippable);
    }

    [Fact]
    public void SevenBySevenAndSearchableSeDecode()
    {
        using var scope = NewDisposeScope();
        var sk = new Superkernel(2, new[] { 3, 5, 7 }, new[] { 2, 4, 6 }, 1, skippable: true);
        Assert.Equal(new long[] { 12, 1, 7, 7 }, sk.Weight.shape);
        Assert.Equal((7, 6, false), sk.Decode());
        foreach (var (k, e) in new[] { (3, 2), (5, 4), (7, 2), (3, 6) })
        {
            sk.ForceDecision(k, e, false);
            Assert.Equal((k, e, false), sk.Decode());
        }
        var space = Spaces.Get("spnas-fmnist", new SpnasOptions { Width = 0.25, Kernels = new[] { 3, 5, 7 }, SearchSe = true });
        using var net = new SinglePathSupernet(space);
        net.train();
        var y = net.call(randn(2, 1, 28, 28));
        Assert.Equal(new long[] { 2, 10 }, y.shape);
        var names = net.DecodeNames();
        Assert.All(names, n => Assert.Equal("k7_e6_se", n)); // thresholds at 0: the largest op with SE
    }
}

public class RuntimeModelTests
{
    static LayerLatencies FakeTable(LayeredSpace s) =>
        // a deterministic table: cost grows with kernel and expansion (not a stand-in for measured data; the formula is under test)
        new(s, 5.0, (l, name) => 0.1 * (l + 1) + (name.Contains("k5") ? 0.05 : name.Contains("k7") ? 0.09 : 0) + (name.Contains("e6") ? 0.2 : name.Contains("e3") ? 0.1 : 0.07) + (name.EndsWith("_se") ? 0.03 : 0));

    [Fact]
    public void ExactFormulaEqualsTableOfDecodedNetAndHasGradients()
    {
        using var scope = NewDisposeScope();
        var space = Spaces.Get("spnas-fmnist", new SpnasOptions { Width = 0.25, Kernels = new[] { 3, 5, 7 }, SearchSe = true });
        using var net = new SinglePathSupernet(space);
        var table = FakeTable(space);
        var rm = new RuntimeModel(table, net);
        Assert.Equal(RuntimeFormula.Exact, rm.Formula);
        var rng = new Random(3);
        for (int trial = 0; trial < 3; trial++)
        {
            // random decisions through the thresholds
            foreach (var l in net.SearchLayers)
            {
                int k = l.Choices.Kernels[rng.Next(3)], e = l.Choices.Expansions[rng.Next(2)];
                l.Kernel.ForceDecision(k, e, l.Choices.Skippable && rng.Next(4) == 0);
            }
            net.eval();
            net.call(randn(1, 1, 28, 28));
            var r = rm.Forward(net);
            Assert.Equal(table.Predict(net.DecodeChoices()), r.item<float>(), 4);
        }
        net.train();
        net.call(randn(2, 1, 28, 28));
        var rr = rm.Forward(net);
        rr.backward();
        Assert.True(net.Thresholds().Any(t => t.grad is not null && t.grad.abs().sum().item<float>() > 0));
    }

    [Fact]
    public void PaperFormulaMatchesTableExceptThreeByThreeThreeThroughTheRatio()
    {
        using var scope = NewDisposeScope();
        var space = Spaces.Get("spnas-cifar", new SpnasOptions { Width = 0.25 });
        using var net = new SinglePathSupernet(space);
        var table = FakeTable(space);
        var rm = new RuntimeModel(table, net);
        Assert.Equal(RuntimeFormula.Paper, rm.Formula);
        foreach (var l in net.SearchLayers) l.Kernel.ForceDecision(5, 3, false);
        net.eval();
        net.call(randn(1, 3, 32, 32));
        Assert.Equal(table.Predict(net.DecodeChoices()), rm.Forward(net).item<float>(), 4);
        foreach (var l in net.SearchLayers) l.Kernel.ForceDecision(3, 3, false);
        net.call(randn(1, 3, 32, 32));
        double expect = table.FixedMs + Enumerable.Range(0, space.LayerCount).Sum(l =>
            table.Entry(l, "k5_e3") * table.Entry(l, "k3_e6") / table.Entry(l, "k5_e6"));
        Assert.Equal(expect, rm.Forward(net).item<float>(), 4);
    }
}

public class ChannelMaskTests
{
    [Fact]
    public void MaskedExpansionChannelsHaveNoEffectAndOpenOnesDo()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var net = new SinglePathSupernet(Spaces.Get("spnas-fmnist"));
        net.eval();
        var layer = net.SearchLayers[1];
        var sk = layer.Kernel;
        Assert.True(sk.Expansions.Length >= 2);
        // close the largest expansion group: channels from the next-largest expansion on are masked
        using (no_grad()) sk.ExpandThresholds[sk.ExpandThresholds.shape[0] - 1] = tensor(1e6f);
        Assert.Equal(sk.Expansions[^2], sk.Decode().Expansion);
        var x = randn(2, 1, 28, 28);
        Tensor Out() { using (no_grad()) return net.call(x).clone(); }
        var y0 = Out();
        var w = layer.named_parameters().First(p => p.name == "conv_pwl.weight").parameter;
        long open = sk.InChannels * sk.Expansions[^2];
        using (no_grad()) w[.., TensorIndex.Slice(open), .., ..].add_(1.0f);
        Assert.True(y0.allclose(Out(), 0, 0), "a masked channel changed the output");
        using (no_grad()) w[.., 0, .., ..].add_(1.0f);
        Assert.False(y0.allclose(Out(), 1e-4, 1e-4), "an open channel did not change the output");
    }
}
