using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Models.SinglePath;

/// <summary>
/// The Single-Path NAS superkernel (methods.md §1): one depthwise kernel at the largest size over
/// e_max*Cin channels whose nested kernel rings and channel groups are switched on by
/// straight-through indicators of (group norm - threshold).
/// Kernel chain k1 &lt; k2 &lt; ...: w_k = w_k1 + d_k2 * (ring_k2 + d_k3 * ring_k3 ...), d_kj = Ind(||ring_kj|| - t_kj).
/// Expansion chain e1 &lt; e2 &lt; ...: w = d_e1 * (w_k[g1] + d_e2 * (w_k[g2] + ...)), d_ej = Ind(||w_k[gj]|| - t_ej);
/// d_e1 (the paper's d50, "skip") exists only where the layer may be skipped, else it is 1.
/// With kernels {3,5} and expansions {3,6}: d5 = d_k2, d50 = d_e1, d100 = d_e2, exactly the paper.
/// </summary>
public sealed class Superkernel : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    /// <summary>Thresholds of kernels k2.. (index j-1 for kernel j).</summary>
    private readonly Parameter t_kernel;
    /// <summary>Thresholds of expansion groups: [t_e1 (skip; unused if not skippable), t_e2, ...].</summary>
    private readonly Parameter t_expand;

    public int[] Kernels { get; }
    public int[] Expansions { get; }
    public bool Skippable { get; }
    public long InChannels { get; }
    public long Channels => InChannels * Expansions[^1];
    public long Stride { get; }
    public NormMode Norm { get; set; } = NormMode.Rms;

    private readonly Tensor[] _kernelMasks; // [K,K] masks of ring j (j >= 1): inside kernel j, outside kernel j-1
    private readonly Tensor _coreMask;
    private readonly long[] _groupStart, _groupEnd; // channel ranges of expansion groups

    public Superkernel(long inChannels, int[] kernels, int[] expansions, long stride, bool skippable) : base("Superkernel")
    {
        Kernels = kernels.Distinct().OrderBy(k => k).ToArray();
        Expansions = expansions.Distinct().OrderBy(e => e).ToArray();
        if (Kernels.Any(k => k % 2 == 0)) throw new ArgumentException("kernels must be odd");
        InChannels = inChannels; Stride = stride; Skippable = skippable;
        int K = Kernels[^1];
        weight = new Parameter(empty(Channels, 1, K, K));
        t_kernel = new Parameter(zeros(Math.Max(0, Kernels.Length - 1)));
        t_expand = new Parameter(zeros(Expansions.Length));
        _coreMask = SquareMask(K, Kernels[0]);
        _kernelMasks = new Tensor[Kernels.Length];
        for (int j = 1; j < Kernels.Length; j++) _kernelMasks[j] = SquareMask(K, Kernels[j]) - SquareMask(K, Kernels[j - 1]);
        _groupStart = new long[Expansions.Length]; _groupEnd = new long[Expansions.Length];
        for (int j = 0; j < Expansions.Length; j++)
        {
            _groupStart[j] = j == 0 ? 0 : inChannels * Expansions[j - 1];
            _groupEnd[j] = inChannels * Expansions[j];
        }
        RegisterComponents();
        ResetParameters();
    }

    /// <summary>Depthwise init of the original: normal with std sqrt(2/(k*k)) (TF fan-out of a depthwise kernel).</summary>
    public void ResetParameters()
    {
        using var _ = no_grad();
        int K = Kernels[^1];
        weight.normal_(0, Math.Sqrt(2.0 / (K * K)));
        t_kernel.zero_();
        t_expand.zero_();
    }

    static Tensor SquareMask(int K, int k)
    {
        var m = zeros(K, K);
        int o = (K - k) / 2;
        m[TensorIndex.Slice(o, o + k), TensorIndex.Slice(o, o + k)] = ones(k, k);
        return m;
    }

    public Parameter Weight => weight;
    public Parameter KernelThresholds => t_kernel;
    public Parameter ExpandThresholds => t_expand;

    /// <summary>Dropout applied to indicators (phase 1); null = none.</summary>
    public double? IndicatorKeep { get; set; }
    public Generator? DropoutGenerator { get; set; }

    /// <summary>Indicators, masked weight and (norm - threshold) margins of one evaluation.</summary>
    public sealed record Decision(Tensor[] Dk, Tensor[] De, Tensor Weight, Tensor[] KernelNorms, Tensor[] KernelMargins, Tensor[] ExpandNorms, Tensor[] ExpandMargins);

    /// <summary>
    /// Computes d_k (kernels k2..), d_e (groups e1..; d_e1 = 1 when not skippable) with surrogate
    /// gradients, and the masked depthwise weight. Kernel rings use the raw weights; expansion groups
    /// use the kernel-decided weight, as in the original.
    /// </summary>
    public Decision Compute(bool dropout)
    {
        var dev = weight.device;
        int nk = Kernels.Length - 1;
        var dk = new Tensor[nk]; var kn = new Tensor[nk]; var km = new Tensor[nk];
        var rings = new Tensor[nk];
        for (int j = 1; j < Kernels.Length; j++)
        {
            rings[j - 1] = weight * _kernelMasks[j].to(dev);
            kn[j - 1] = Indicator.GroupNorm(rings[j - 1], Norm);
            km[j - 1] = kn[j - 1] - t_kernel[j - 1];
            dk[j - 1] = D(km[j - 1], dropout);
        }
        Tensor wk = weight * _coreMask.to(dev);
        Tensor? acc = null;
        for (int j = nk - 1; j >= 0; j--) acc = acc is null ? dk[j] * rings[j] : dk[j] * rings[j].Plus(acc);
        if (acc is not null) wk = wk.Plus(acc);
        int ne = Expansions.Length;
        var de = new Tensor[ne]; var en = new Tensor[ne]; var em = new Tensor[ne];
        var groups = new Tensor[ne];
        for (int j = 0; j < ne; j++)
        {
            groups[j] = wk[TensorIndex.Slice(_groupStart[j], _groupEnd[j])];
            en[j] = Indicator.GroupNorm(groups[j], Norm);
            bool fixedOn = j == 0 && !Skippable;
            em[j] = fixedOn ? full(1, float.PositiveInfinity, device: dev)[0] : en[j] - t_expand[j];
            de[j] = fixedOn ? ones(1, device: dev)[0] : D(em[j], dropout);
        }
        Tensor? accE = null;
        for (int j = ne - 1; j >= 0; j--)
        {
            var g = PadChannels(groups[j], _groupStart[j]);
            accE = accE is null ? de[j] * g : de[j] * g.Plus(accE);
        }
        return new Decision(dk, de, accE!, kn, km, en, em);
    }

    /// <summary>Places a channel group at its offset in a zero tensor of the full width.</summary>
    Tensor PadChannels(Tensor g, long start)
    {
        long before = start, after = Channels - start - g.shape[0];
        if (before == 0 && after == 0) return g;
        return nn.functional.pad(g, new long[] { 0, 0, 0, 0, 0, 0, before, after });
    }

    Tensor D(Tensor margin, bool dropout)
    {
        var d = Indicator.StraightThrough(margin);
        return dropout && IndicatorKeep is double keep ? Indicator.Dropout(d.unsqueeze(0), keep, DropoutGenerator)[0] : d;
    }

    /// <summary>Decisions of the last forward (with gradients), used by the runtime model and the channel mask.</summary>
    public Decision? Last { get; private set; }

    public override Tensor forward(Tensor x)
    {
        var dec = Compute(dropout: training);
        Last = dec;
        int K = Kernels[^1];
        return nn.functional.conv2d(x, dec.Weight, null, new long[] { Stride, Stride }, new long[] { K / 2, K / 2 }, null, Channels);
    }

    /// <summary>Per-channel mask of the active expansion channels (product of the chain's indicators).</summary>
    public Tensor ChannelMask(Tensor[] de)
    {
        var parts = new List<Tensor>();
        Tensor run = de[0];
        for (int j = 0; j < Expansions.Length; j++)
        {
            if (j > 0) run = run * de[j];
            parts.Add(run.expand(_groupEnd[j] - _groupStart[j]));
        }
        return cat(parts.ToArray(), 0);
    }

    /// <summary>Decoded (kernel, expansion, skip) from the hard indicators of the current weights and thresholds.</summary>
    public (int Kernel, int Expansion, bool Skip) Decode()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var d = Compute(dropout: false);
        int k = Kernels[0];
        for (int j = 0; j < d.Dk.Length && d.Dk[j].item<float>() > 0.5f; j++) k = Kernels[j + 1];
        if (d.De[0].item<float>() < 0.5f) return (k, 0, true);
        int e = Expansions[0];
        for (int j = 1; j < d.De.Length && d.De[j].item<float>() > 0.5f; j++) e = Expansions[j];
        return (k, e, false);
    }

    /// <summary>Current norms and (norm - threshold) margins: kernel rings k2.., expansion groups e1.. (+inf where fixed).</summary>
    public (float[] KernelNorm, float[] KernelMargin, float[] ExpandNorm, float[] ExpandMargin) Margins()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var d = Compute(dropout: false);
        static float[] F(Tensor[] t) => t.Select(x => x.item<float>()).ToArray();
        return (F(d.KernelNorms), F(d.KernelMargins), F(d.ExpandNorms), F(d.ExpandMargins));
    }

    /// <summary>Sets thresholds so that the layer decodes to (kernel, expansion, skip) with the given margin (tests, projection).</summary>
    public void ForceDecision(int kernel, int expansion, bool skip, float margin = 1e-3f)
    {
        using var _ = no_grad();
        var (kn, _, _, _) = Margins();
        for (int j = 1; j < Kernels.Length; j++) t_kernel[j - 1] = kn[j - 1] + (Kernels[j] <= kernel ? -margin : margin);
        var (_, _, en, _) = Margins(); // expansion norms depend on the kernel decision just set
        for (int j = 0; j < Expansions.Length; j++)
        {
            bool on = j == 0 ? !skip : (!skip && Expansions[j] <= expansion);
            t_expand[j] = en[j] + (on ? -margin : margin);
        }
    }
}
