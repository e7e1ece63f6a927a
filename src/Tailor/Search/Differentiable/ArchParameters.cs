using Tailor.Models.Cells;
using Tailor.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Search.Differentiable;

/// <summary>
/// The architecture parameters of a supernet: one alpha matrix (edges x ops) per cell group,
/// initialised as 1e-3 * N(0, 1) (DARTS, AutoDL) from the search seed.
/// </summary>
public sealed class ArchParameters : IDisposable
{
    public IReadOnlyList<string> Names { get; }
    public Tensor[] Alphas { get; }
    public int NumOps { get; }

    public ArchParameters(CellSupernet net, long seed, bool zero = false)
    {
        Names = net.GroupNames;
        NumOps = net.OpNames.Count;
        var gen = new Generator((ulong)SplitMix64.Mix(seed, 0xA1FA));
        Alphas = new Tensor[net.Groups];
        for (int g = 0; g < net.Groups; g++)
        {
            var a = zero ? zeros(net.EdgesOf(g), NumOps) : randn(new long[] { net.EdgesOf(g), NumOps }, generator: gen).mul_(1e-3);
            Alphas[g] = a.requires_grad_(true).DetachFromDisposeScope();
        }
    }

    public Tensor[] Softmax() => Alphas.Select(a => nn.functional.softmax(a, 1)).ToArray();

    /// <summary>Softmax weights as plain arrays [group][edge][op].</summary>
    public float[][][] Weights()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        return Alphas.Select(a =>
        {
            var w = nn.functional.softmax(a, 1);
            int e = (int)w.shape[0], o = (int)w.shape[1];
            var flat = w.contiguous().data<float>().ToArray();
            return Enumerable.Range(0, e).Select(i => flat.AsSpan(i * o, o).ToArray()).ToArray();
        }).ToArray();
    }

    public float[][][] Raw()
    {
        using var ng = no_grad();
        return Alphas.Select(a =>
        {
            int e = (int)a.shape[0], o = (int)a.shape[1];
            var flat = a.contiguous().data<float>().ToArray();
            return Enumerable.Range(0, e).Select(i => flat.AsSpan(i * o, o).ToArray()).ToArray();
        }).ToArray();
    }

    /// <summary>Throws a one-line TailorException when an alpha holds NaN or infinity (the run stops; the last checkpoint is kept).</summary>
    public void CheckFinite(string when)
    {
        for (int g = 0; g < Alphas.Length; g++)
        {
            using var ng = no_grad();
            bool bad = !Alphas[g].isfinite().all().item<bool>();
            if (bad) throw new TailorException($"{Names[g]} holds NaN or infinity {when}; the search diverged (lower --arch-lr or --lr); the last checkpoint is kept");
        }
    }

    public void Load(IReadOnlyDictionary<string, Tensor> t)
    {
        using var _ = no_grad();
        for (int g = 0; g < Alphas.Length; g++)
        {
            if (!t.TryGetValue(Names[g], out var v) || !v.shape.SequenceEqual(Alphas[g].shape))
                throw new TailorException($"checkpoint: {Names[g]} missing or of the wrong shape");
            Alphas[g].copy_(v);
        }
    }

    public void Dispose() { foreach (var a in Alphas) a.Dispose(); }
}

/// <summary>Gumbel samplers over alpha rows (one sample per edge).</summary>
public static class GumbelSampler
{
    /// <summary>Standard Gumbel noise -log(-log(U)), U ~ U(0, 1) clamped away from 0 and 1.</summary>
    public static Tensor Noise(long[] shape, Generator gen)
    {
        var u = rand(shape, generator: gen).ClampInPlace(1e-10, 1 - 1e-7);
        return u.log_().neg_().log_().neg_();
    }

    /// <summary>
    /// GDAS: logits = (log_softmax(alpha) + g) / tau; probs = softmax(logits); index = argmax; weight of the
    /// chosen op = 1 - probs[index].detach() + probs[index] (value 1, gradient of probs: straight-through).
    /// Returns per edge the index and its weight (shape [E, 1]).
    /// </summary>
    public static (int[][] Index, Tensor Weight) Gdas(Tensor alpha, double tau, Generator gen) => TopK(alpha, 1, tau, gen);

    /// <summary>
    /// Gumbel-TopK: z = log_softmax(alpha) + g; the K largest z per edge are K distinct ops (a sample
    /// without replacement from softmax(alpha)); p = softmax(z / tau); each sampled op gets the weight
    /// 1/K + p - p.detach() (forward: the mean of the K paths; backward: the gradient of p). K = 1 is GDAS.
    /// Returns indices [E][K] (in decreasing z) and weights [E, K].
    /// </summary>
    public static (int[][] Index, Tensor Weight) TopK(Tensor alpha, int k, double tau, Generator gen)
    {
        var (index, w, _) = Draw(alpha, k, tau, gen, withOthers: false);
        return (index, w);
    }

    /// <summary>
    /// <see cref="TopK"/> plus, per edge, Others = sum over the ops not sampled of (p - p.detach()): zero in
    /// value, gradient 1 to each of those p. Added to the edge's node it is GDAS's own estimator (AutoDL's
    /// forward_gdas sums hardwts[i] * op_i(x) for the sampled op and the bare hardwts[i] for the others),
    /// so an op not sampled is scored as if it had output ones, and a sampled 'none' (output 0) is no longer
    /// free of gradient relative to the rest. Others has shape [E].
    /// </summary>
    public static (int[][] Index, Tensor Weight, Tensor Others) TopKWithOthers(Tensor alpha, int k, double tau, Generator gen)
    {
        var (index, w, others) = Draw(alpha, k, tau, gen, withOthers: true);
        return (index, w, others!);
    }

    // One Gumbel-TopK draw; the Others terms only when asked for (they add graph nodes to every forward).
    static (int[][] Index, Tensor Weight, Tensor? Others) Draw(Tensor alpha, int k, double tau, Generator gen, bool withOthers)
    {
        long e = alpha.shape[0], o = alpha.shape[1];
        if (k < 1 || k > o) throw new TailorException($"Gumbel-TopK: K = {k} must be in 1..{o}");
        var g = Noise(alpha.shape, gen);
        var z = nn.functional.log_softmax(alpha, 1).Plus(g);
        var p = nn.functional.softmax(z.Over(tau), 1);
        var (_, idx) = z.detach().topk(k, 1, largest: true, sorted: true);
        var gathered = p.gather(1, idx);
        var w = (gathered - gathered.detach()).PlusScalar(1.0 / k);
        Tensor? others = null;
        if (withOthers)
        {
            var st = p - p.detach();
            others = st.sum(1) - st.gather(1, idx).sum(1);
        }
        var flat = idx.contiguous().data<long>().ToArray();
        var index = new int[e][];
        for (int i = 0; i < e; i++) { index[i] = new int[k]; for (int j = 0; j < k; j++) index[i][j] = (int)flat[i * k + j]; }
        return (index, w, others);
    }
}

/// <summary>Genotype derivation from architecture weights.</summary>
public static class Derive
{
    /// <summary>NAS-Bench-201: argmax over all ops (none included) per edge, as AutoDL's genotype().</summary>
    public static Nb201Cell Nb201(float[][] w, bool excludeNone = false)
    {
        var ops = new int[Nb201Cell.Edges];
        for (int e = 0; e < ops.Length; e++) ops[e] = ArgMax(w[e], excludeNone ? Nb201Cell.None : -1);
        return new Nb201Cell(ops);
    }

    /// <summary>
    /// DARTS: for each intermediate node keep the two incoming edges with the largest weight of a
    /// non-'none' op, each with that op (DARTS's _parse). <paramref name="fixedOps"/> (&gt;= 0) overrides an
    /// edge's op and <paramref name="keepEdges"/> a node's two edges (DARTS-PT's projections).
    /// </summary>
    public static DartsCell Darts(float[][] w, int[]? fixedOps = null, int[][]? keepEdges = null)
    {
        var pairs = new List<(int, int)>();
        for (int step = 0; step < DartsCell.Steps; step++)
        {
            int start = DartsCell.EdgeIndex(step, 0), n = 2 + step;
            int OpOf(int e) => fixedOps != null && fixedOps[e] > 0 ? fixedOps[e] : ArgMax(w[e], DartsCell.None);
            IEnumerable<int> chosen;
            if (keepEdges?[step] is { } keep) chosen = keep.OrderBy(j => j);
            else
                chosen = Enumerable.Range(0, n)
                    .OrderByDescending(j => Best(w[start + j]))
                    .ThenBy(j => j).Take(2).OrderBy(j => j);
            // DARTS lists the two edges in order of decreasing strength; we list them by input node (canonical).
            foreach (int j in chosen) pairs.Add((OpOf(start + j), j));
        }
        return new DartsCell(pairs);
    }

    static float Best(float[] row)
    {
        float b = float.NegativeInfinity;
        for (int k = 0; k < row.Length; k++) if (k != DartsCell.None && row[k] > b) b = row[k];
        return b;
    }

    public static int ArgMax(float[] row, int exclude = -1)
    {
        int best = -1;
        for (int k = 0; k < row.Length; k++)
            if (k != exclude && (best < 0 || row[k] > row[best])) best = k;
        return best;
    }
}
