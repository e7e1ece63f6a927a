namespace Tailor.Arch;

/// <summary>One row of the analysis: a block (or the classifier) with its shapes and exact counts.</summary>
public sealed record LayerInfo(string Path, Block? Block, string Kind, int InChannels, int InH, int InW,
    int OutChannels, int OutH, int OutW, long Params, long Macs, bool Residual, int Mid, int SeReduced)
{
    public string OutShape => $"{OutChannels}x{OutH}x{OutW}";
}

/// <summary>Shape inference, validation and exact counting for an <see cref="Architecture"/>.</summary>
/// <remarks>
/// Counting rules: parameters are all trainable tensors (conv weights, BN gamma and beta, SE and
/// FC weights and biases; BN running statistics are buffers and not counted). MACs count
/// convolutions and fully connected layers only (BN, activations, pooling, residual adds and SE
/// gating are not counted), at the architecture's input size, batch 1.
/// </remarks>
public sealed class ArchAnalysis
{
    public IReadOnlyList<LayerInfo> Layers { get; }
    public long Params { get; }
    public long Macs { get; }
    public int FeatureChannels { get; }

    ArchAnalysis(List<LayerInfo> layers, int features)
    {
        Layers = layers;
        Params = layers.Sum(l => l.Params);
        Macs = layers.Sum(l => l.Macs);
        FeatureChannels = features;
    }

    /// <summary>Validates shapes and channels; throws <see cref="TailorException"/> naming the block and the problem.</summary>
    public static ArchAnalysis Analyze(Architecture a, string source = "<arch>")
    {
        var rows = new List<LayerInfo>();
        int c = a.Input.Channels, h = a.Input.Height, w = a.Input.Width;
        if (a.Blocks.Count == 0 && a.Stem.Count == 0) throw new TailorException($"{source}: $.blocks: the network has no blocks");
        if (a.Classes < 1) throw new TailorException($"{source}: $.classes: expected an integer >= 1 (got {a.Classes})");
        foreach (var (path, b) in a.AllBlocks())
        {
            var row = AnalyzeBlock(b, $"{source}: $.{path}", path, c, h, w);
            rows.Add(row);
            (c, h, w) = (row.OutChannels, row.OutH, row.OutW);
        }
        long fcParams = (long)c * a.Classes + a.Classes;
        rows.Add(new LayerInfo("head.fc", null, "pool+fc", c, h, w, a.Classes, 1, 1, fcParams, (long)c * a.Classes, false, 0, 0));
        return new ArchAnalysis(rows, c);
    }

    static int OutSize(int size, int k, int s, int p) => (size + 2 * p - k) / s + 1;

    static LayerInfo AnalyzeBlock(Block b, string where, string path, int cin, int h, int w)
    {
        TailorException Err(string msg) => new($"{where}: {msg}");
        if (b.In is int declared && declared != cin)
            throw Err($"channel mismatch: block declares in={declared} but receives {cin} channels");
        if (b.Out < 1) throw Err($"out: expected >= 1 (got {b.Out})");
        if (b.Stride < 1) throw Err($"stride: expected >= 1 (got {b.Stride})");
        switch (b.Kind)
        {
            case BlockKind.ConvBnAct:
            {
                int p = b.Padding ?? b.Kernel / 2;
                int ho = h + 2 * p < b.Kernel ? 0 : OutSize(h, b.Kernel, b.Stride, p);
                int wo = w + 2 * p < b.Kernel ? 0 : OutSize(w, b.Kernel, b.Stride, p);
                if (ho < 1 || wo < 1)
                    throw Err($"impossible shape: a {b.Kernel}x{b.Kernel} conv (stride {b.Stride}, padding {p}) on {h}x{w} gives {Math.Max(ho, 0)}x{Math.Max(wo, 0)}");
                if (cin % b.Groups != 0 || b.Out % b.Groups != 0)
                    throw Err($"groups: {b.Groups} must divide the input channels ({cin}) and the output channels ({b.Out})");
                long conv = (long)b.Out * (cin / b.Groups) * b.Kernel * b.Kernel;
                return new LayerInfo(path, b, "conv_bn_act", cin, h, w, b.Out, ho, wo, conv + 2L * b.Out, conv * ho * wo, false, 0, 0);
            }
            case BlockKind.MBConv:
            {
                if (b.Kernel is not (3 or 5 or 7)) throw Err($"kernel: expected one of 3, 5, 7 (got {b.Kernel})");
                if (b.Expansion < 1) throw Err($"expansion: expected >= 1 (got {b.Expansion})");
                if (b.Stride is not (1 or 2)) throw Err($"stride: expected 1 or 2 (got {b.Stride})");
                int mid = cin * b.Expansion;
                bool expand = b.HasExpand;
                if (b.Groups > 1 && (cin % b.Groups != 0 || mid % b.Groups != 0 || b.Out % b.Groups != 0))
                    throw Err($"groups: {b.Groups} must divide the input ({cin}), expanded ({mid}) and output ({b.Out}) channels");
                if (b.Groups > 1 && !expand) throw Err("groups: grouped 1x1 convs need an expand conv (expansion > 1 or force_expand)");
                if (b.Shuffle && b.Groups < 2) throw Err("shuffle: channel shuffle needs groups >= 2");
                int p = b.Kernel / 2;
                int ho = OutSize(h, b.Kernel, b.Stride, p), wo = OutSize(w, b.Kernel, b.Stride, p);
                long pars = 0, macs = 0;
                if (expand)
                {
                    long pw = (long)mid * (cin / b.Groups);
                    pars += pw + 2L * mid;
                    macs += pw * h * w;
                }
                long dw = (long)mid * b.Kernel * b.Kernel;
                pars += dw + 2L * mid;
                macs += dw * ho * wo;
                int red = 0;
                if (b.Se is { } se)
                {
                    red = se.Reduced(cin, mid);
                    pars += (long)mid * red + red + (long)red * mid + mid;
                    macs += 2L * mid * red;
                }
                long pj = (long)b.Out * (mid / b.Groups);
                pars += pj + 2L * b.Out;
                macs += pj * ho * wo;
                bool res = b.Stride == 1 && cin == b.Out;
                return new LayerInfo(path, b, "mbconv", cin, h, w, b.Out, ho, wo, pars, macs, res, mid, red);
            }
            case BlockKind.Skip:
            {
                if (b.Stride is not (1 or 2)) throw Err($"stride: expected 1 or 2 (got {b.Stride})");
                int ho = OutSize(h, 1, b.Stride, 0), wo = OutSize(w, 1, b.Stride, 0);
                if (b.Stride == 1 && cin == b.Out)
                    return new LayerInfo(path, b, "skip", cin, h, w, b.Out, h, w, 0, 0, true, 0, 0);
                long conv = (long)cin * b.Out;
                return new LayerInfo(path, b, "skip(1x1)", cin, h, w, b.Out, ho, wo, conv + 2L * b.Out, conv * ho * wo, false, 0, 0);
            }
            default:
                throw Err($"kind: unsupported block kind {b.Kind}");
        }
    }
}
