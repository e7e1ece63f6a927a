using Tailor.Models.Cells;
using Tailor.Search.Differentiable;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Tests.Cells;

public class SupernetTests
{
    static CellPlan[] Soft(CellSupernet net, Tensor[] alphas) => alphas.Select(a => CellPlan.Soft(nn.functional.softmax(a, 1), net.NoneOp)).ToArray();

    [Fact]
    public void Nb201SupernetShapesGroupsAndBnWithoutAffine()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(0);
        using var net = new Nb201Supernet(new Nb201SupernetConfig { C = 4, N = 2, Classes = 7 });
        Assert.Equal(1, net.Groups);
        Assert.Equal(new[] { 0, 0, -1, 0, 0, -1, 0, 0 }, net.CellGroups);
        var y = net.Forward(randn(3, 3, 32, 32), Soft(net, new[] { randn(6, 5) }));
        Assert.Equal(new long[] { 3, 7 }, y.shape);
        // every BN inside the cells has no affine parameters and no running statistics
        foreach (var (name, m) in net.named_modules())
            if (m is TorchSharp.Modules.NormBase bn && name.Contains("edges"))
            {
                Assert.Null(bn.weight);
                Assert.Null(bn.running_mean);
            }
        using var hd = new Nb201Supernet(new Nb201SupernetConfig { C = 4, N = 1, StageSpecific = true });
        Assert.Equal(3, hd.Groups);
        Assert.Equal(new[] { 0, -1, 1, -1, 2 }, hd.CellGroups);
    }

    [Fact]
    public void DartsSupernetShapesAndCellLayout()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(0);
        using var net = new DartsSupernet(new DartsSupernetConfig { C = 4, Layers = 5 });
        Assert.Equal(new[] { 0, 1, 0, 1, 0 }, net.CellGroups); // reductions at 5/3 = 1 and 10/3 = 3
        Assert.Equal(14, net.EdgesOf(0));
        Assert.Equal(8, net.OpNames.Count);
        var y = net.Forward(randn(2, 3, 32, 32), Soft(net, new[] { randn(14, 8), randn(14, 8) }));
        Assert.Equal(new long[] { 2, 10 }, y.shape);
        using var hd = new DartsSupernet(new DartsSupernetConfig { C = 4, Layers = 8, StageSpecific = true });
        Assert.Equal(new[] { 0, 0, 3, 1, 1, 4, 2, 2 }, hd.CellGroups);
        Assert.Equal(5, hd.Groups);
    }

    [Fact]
    public void GdasComputesOnlyTheSampledOpAndAlphaStillGetsGradients()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        using var net = new Nb201Supernet(new Nb201SupernetConfig { C = 4, N = 2 });
        var alpha = (randn(6, 5) * 0.5).requires_grad_(true);
        var gen = new Generator(5);
        var (idx, w) = GumbelSampler.Gdas(alpha, 1.0, gen);
        net.ResetCalls();
        var y = net.Forward(randn(4, 3, 16, 16), new[] { CellPlan.Sampled(idx, w, net.NoneOp) });
        int nonNone = idx.Count(r => r[0] != net.NoneOp);
        Assert.Equal(6L * nonNone, net.TotalCalls()); // 6 search cells, one op per non-none edge each
        foreach (var cell in net.modules().OfType<Nb201SearchCell>())
            for (int e = 0; e < 6; e++)
                for (int o = 0; o < 5; o++)
                    Assert.Equal(o == idx[e][0] && o != net.NoneOp ? 1 : 0, cell.Edges[e][o].Calls);
        // forward weights are exactly 1 (hard one-hot)
        Assert.All(w.data<float>().ToArray(), v => Assert.Equal(1f, v, 6));
        y.sum().backward();
        var g = alpha.grad!.data<float>().ToArray();
        for (int e = 0; e < 6; e++)
            if (idx[e][0] != net.NoneOp)
                Assert.True(Enumerable.Range(0, 5).All(o => g[e * 5 + o] != 0), $"edge {e}: straight-through gradient reaches every alpha of the edge");
    }

    [Fact]
    public void GdasOwnEstimatorAddsTheOpsNotSampledWithValueZeroAndGradientOne()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(2);
        var alpha = (randn(6, 5) * 0.5).requires_grad_(true);
        const double tau = 2.0;
        var (idx, w, others) = GumbelSampler.TopKWithOthers(alpha, 1, tau, new Generator(11));
        Assert.All(others.data<float>().ToArray(), v => Assert.Equal(0f, v)); // zero in value
        // d(others_e)/d(alpha) = gradient of the summed softmax of the ops not sampled (same noise, same probabilities)
        others.sum().backward();
        var got = alpha.grad!.data<float>().ToArray();
        var a2 = alpha.detach().clone().requires_grad_(true);
        var pr = nn.functional.softmax((nn.functional.log_softmax(a2, 1) + GumbelSampler.Noise(new long[] { 6, 5 }, new Generator(11))) / tau, 1);
        var notSampled = ones(6, 5);
        for (int e = 0; e < 6; e++) notSampled[e, idx[e][0]] = tensor(0f);
        (pr * notSampled).sum().backward();
        var want = a2.grad!.data<float>().ToArray();
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 5);

        // in the supernet the output is unchanged, and a sampled 'none' edge now passes a gradient to its alpha
        torch.manual_seed(1);
        using var net = new Nb201Supernet(new Nb201SupernetConfig { C = 4, N = 1 });
        var x = randn(2, 3, 16, 16);
        int[][] forced = { new[] { 3 }, new[] { 3 }, new[] { net.NoneOp }, new[] { 3 }, new[] { 2 }, new[] { 1 } };
        var a3 = zeros(6, 5).requires_grad_(true);
        var p3 = nn.functional.softmax(a3, 1);
        var w3 = p3.gather(1, tensor(forced.Select(r => (long)r[0]).ToArray()).reshape(6, 1));
        w3 = w3 - w3.detach() + 1;
        var st = p3 - p3.detach();
        var o3 = st.sum(1) - st.gather(1, tensor(forced.Select(r => (long)r[0]).ToArray()).reshape(6, 1)).sum(1);
        var yPlain = net.Forward(x, new[] { CellPlan.Sampled(forced, w3, net.NoneOp) });
        var yGdas = net.Forward(x, new[] { CellPlan.Sampled(forced, w3, net.NoneOp, o3) });
        Assert.Equal(0, (yPlain - yGdas).abs().max().item<float>(), 6);
        yGdas.sum().backward();
        var g3 = a3.grad!.data<float>().ToArray();
        Assert.True(Enumerable.Range(0, 5).Any(o => g3[2 * 5 + o] != 0), "the sampled-'none' edge gets a gradient from its ops not sampled");
    }

    [Fact]
    public void GumbelTopKDrawsKDistinctOpsWithSoftmaxFrequencies()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(9);
        var alpha = randn(new long[] { 6, 5 }, generator: gen).requires_grad_(true);
        for (int k = 1; k <= 5; k++)
        {
            var (idx, w) = GumbelSampler.TopK(alpha, k, 1.0, gen);
            Assert.All(idx, row => { Assert.Equal(k, row.Length); Assert.Equal(k, row.Distinct().Count()); });
            Assert.All(w.data<float>().ToArray(), v => Assert.Equal(1f / k, v, 5)); // forward: the mean of the K paths
        }
        // K = 1 samples op i with probability softmax(alpha)_i (Gumbel-max)
        var a1 = tensor(new float[] { 0, 1, 2, -1, 0.5f }).reshape(1, 5);
        var p = nn.functional.softmax(a1, 1).data<float>().ToArray();
        var counts = new int[5];
        const int n = 6000;
        for (int t = 0; t < n; t++) { using var s2 = NewDisposeScope(); counts[GumbelSampler.TopK(a1, 1, 1.0, gen).Index[0][0]]++; }
        for (int i = 0; i < 5; i++) Assert.InRange(counts[i] / (double)n, p[i] - 0.025, p[i] + 0.025);
        Assert.Throws<TailorException>(() => GumbelSampler.TopK(a1, 6, 1.0, gen));
    }

    [Fact]
    public void MaskingAnOpZeroesItsWeightWithoutRenormalising()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(2);
        using var net = new Nb201Supernet(new Nb201SupernetConfig { C = 4, N = 1 });
        var w = nn.functional.softmax(randn(6, 5), 1);
        var x = randn(4, 3, 16, 16);
        var mask = new bool[6, 5];
        mask[2, 3] = true;
        using var ng = no_grad();
        var masked = net.Forward(x, new[] { CellPlan.Soft(w, net.NoneOp, mask) });
        var w0 = w.clone(); w0[2, 3] = tensor(0f);
        var manual = net.Forward(x, new[] { CellPlan.Soft(w0, net.NoneOp) });
        Assert.True(masked.allclose(manual, 1e-5, 1e-6));
        var renorm = w0.clone(); renorm[2] = renorm[2] / renorm[2].sum();
        Assert.False(masked.allclose(net.Forward(x, new[] { CellPlan.Soft(renorm, net.NoneOp) }), 1e-5, 1e-6));
        // 'none' contributes zero: masking it changes nothing
        var maskNone = new bool[6, 5]; maskNone[4, 0] = true;
        var full = net.Forward(x, new[] { CellPlan.Soft(w, net.NoneOp) });
        Assert.True(full.allclose(net.Forward(x, new[] { CellPlan.Soft(w, net.NoneOp, maskNone) }), 1e-6, 1e-7));
    }

    [Fact]
    public void DropBlockKeepsTheExpectationAndDropsSquareBlocks()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(3);
        var x = ones(8, 4, 16, 16);
        Assert.Same(x, DropBlock.Apply(x, 0, 3, gen));
        var y = DropBlock.Apply(x, 0.2, 3, gen);
        double zeroFrac = y.eq(0).to_type(ScalarType.Float32).mean().item<float>();
        Assert.InRange(zeroFrac, 0.12, 0.30);
        Assert.Equal(1.0, y.mean().item<float>(), 3); // rescaled by positions / kept positions
    }
}
