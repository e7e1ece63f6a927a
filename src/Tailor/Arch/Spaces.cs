using System.Globalization;

namespace Tailor.Arch;

/// <summary>Options of the Single-Path NAS spaces (all configurable from the CLI).</summary>
public sealed record SpnasOptions
{
    public double Width { get; init; } = 1.0;
    /// <summary>Searchable layers per stage; null = the space's default (4 on ImageNet, 2 on small inputs).</summary>
    public int? LayersPerStage { get; init; }
    /// <summary>Depthwise kernels to choose from (subset of 3, 5, 7).</summary>
    public int[] Kernels { get; init; } = { 3, 5 };
    public int[] Expansions { get; init; } = { 3, 6 };
    /// <summary>Also search squeeze-and-excitation on/off per layer (Single-Path Mobile AutoML).</summary>
    public bool SearchSe { get; init; }
    public double SeRatio { get; init; } = 0.25;
    public int? Classes { get; init; }
}

/// <summary>Named layer-wise search spaces.</summary>
public static class Spaces
{
    public static readonly string[] Names = { "spnas-imagenet", "spnas-cifar", "spnas-fmnist", "fbnet" };

    /// <summary>
    /// The named space from its <see cref="LayeredSpace.Config"/> (what a latency table or a search summary records):
    /// the inverse of the dictionary the spnas builders write. Keys not given keep their defaults; an unreadable
    /// value throws <see cref="FormatException"/> (the caller names the file and field).
    /// </summary>
    public static LayeredSpace FromConfig(string name, IReadOnlyDictionary<string, string> config, int? classes = null)
    {
        var o = new SpnasOptions { Classes = classes };
        string? Value(string k) => config.TryGetValue(k, out var v) ? v : null;
        if (Value("width") is { } w) o = o with { Width = double.Parse(w, CultureInfo.InvariantCulture) };
        if (Value("layers_per_stage") is { } lps) o = o with { LayersPerStage = int.Parse(lps, CultureInfo.InvariantCulture) };
        if (Value("kernels") is { } ks) o = o with { Kernels = ks.Split(',').Select(k => int.Parse(k, CultureInfo.InvariantCulture)).ToArray() };
        if (Value("expansions") is { } es) o = o with { Expansions = es.Split(',').Select(e => int.Parse(e, CultureInfo.InvariantCulture)).ToArray() };
        if (Value("search_se") is { } se) o = o with { SearchSe = se == "true" };
        return Get(name, o);
    }

    public static LayeredSpace Get(string name, SpnasOptions? o = null) => name switch
    {
        "spnas-imagenet" => SinglePath(name, new InputShape(3, 224, 224), 1000, 2, new[] { 2, 2, 2, 1, 2 }, 4, o ?? new()),
        "spnas-cifar" => SinglePath(name, new InputShape(3, 32, 32), 10, 1, new[] { 1, 2, 2, 1, 2 }, 2, o ?? new()),
        "spnas-fmnist" => SinglePath(name, new InputShape(1, 28, 28), 10, 2, new[] { 1, 2, 1, 2, 1 }, 2, o ?? new()),
        "fbnet" => FBNet(),
        _ => throw new TailorException($"space '{name}': unknown search space; available: {string.Join(", ", Names)}"),
    };

    /// <summary>Rounds channels to a multiple of 8 (MobileNet convention), never below 8 or 90% of the target.</summary>
    public static int Round8(double c)
    {
        int r = Math.Max(8, (int)(c + 4) / 8 * 8);
        if (r < 0.9 * c) r += 8;
        return r;
    }

    public static string CandidateName(int k, int e, bool se) => $"k{k}_e{e}" + (se ? "_se" : "");

    /// <summary>
    /// The Single-Path NAS macro space (methods.md §1): stem 3x3 to 32, fixed MBConv e1 3x3 to 16,
    /// five searchable stages (24, 40, 80, 96, 192), fixed MBConv e6 3x3 to 320, head 1x1 to 1280, all ReLU.
    /// Candidates per layer: MBConv k x e (x SE); layers that are not the first of their stage may be skip.
    /// </summary>
    static LayeredSpace SinglePath(string name, InputShape input, int classes, int stemStride, int[] strides, int defaultLayers, SpnasOptions o)
    {
        if (o.Kernels.Length == 0 || o.Kernels.Any(k => k is not (3 or 5 or 7)))
            throw new TailorException($"space '{name}': kernels must be a non-empty subset of 3, 5, 7");
        if (o.Expansions.Length == 0 || o.Expansions.Any(e => e < 1))
            throw new TailorException($"space '{name}': expansions must be positive integers");
        if (o.Width <= 0) throw new TailorException($"space '{name}': width multiplier must be > 0");
        int layers = o.LayersPerStage ?? defaultLayers;
        if (layers < 1 || layers > 8) throw new TailorException($"space '{name}': layers per stage must be in 1..8 (got {layers})");
        var a = Activation.Relu;
        int W(int c) => Round8(c * o.Width);
        var stem = new List<Block> { Block.ConvBnAct(W(32), 3, stemStride, a) };
        var slots = new List<Slot> { new(Block.MBConv(W(16), 3, 1, 1, a), null) };
        int[] outs = { 24, 40, 80, 96, 192 };
        var se = new SqueezeExcite(o.SeRatio, "in", Activation.Relu, Activation.Sigmoid);
        for (int s = 0; s < outs.Length; s++)
        {
            for (int l = 0; l < layers; l++)
            {
                int stride = l == 0 ? strides[s] : 1;
                var cands = new List<Candidate>();
                foreach (int k in o.Kernels.Distinct().OrderBy(x => x))
                    foreach (int e in o.Expansions.Distinct().OrderBy(x => x))
                        foreach (bool withSe in o.SearchSe ? new[] { false, true } : new[] { false })
                            cands.Add(new Candidate(CandidateName(k, e, withSe), Block.MBConv(W(outs[s]), k, e, stride, a, withSe ? se : null)));
                if (l > 0) cands.Insert(0, new Candidate("skip", Block.Skip(W(outs[s]))));
                slots.Add(new Slot(null, cands));
            }
        }
        slots.Add(new Slot(Block.MBConv(W(320), 3, 6, 1, a), null));
        var head = new Head { Convs = { Block.ConvBnAct(Math.Max(1280, W(1280)), 1, 1, a) }, Dropout = 0.2 };
        var cfg = new Dictionary<string, string>
        {
            ["width"] = o.Width.ToString(CultureInfo.InvariantCulture), ["layers_per_stage"] = layers.ToString(),
            ["kernels"] = string.Join(",", o.Kernels), ["expansions"] = string.Join(",", o.Expansions), ["search_se"] = o.SearchSe ? "true" : "false",
        };
        return new LayeredSpace(name, input, o.Classes ?? classes, stem, slots, head, cfg);
    }

    public static readonly string[] FBNetOps = { "k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip" };

    /// <summary>
    /// One FBNet op (<see cref="FBNetOps"/>: kernel k, expansion e, g2 = grouped 1x1 convs, 2 groups + shuffle)
    /// as an IR block. FBNet keeps the 1x1 expand conv at e=1; skip where stride or channels change is
    /// 1x1 conv + BN + act. Shared by the FBNet space and the zoo's FBNet-C.
    /// </summary>
    public static Block FBNetBlock(string op, int channels, int stride, Activation act = Activation.Relu)
    {
        if (!FBNetOps.Contains(op)) throw new TailorException($"FBNet op '{op}': expected one of {string.Join(", ", FBNetOps)}");
        if (op == "skip") return Block.Skip(channels, stride, act);
        int k = op[1] - '0', e = op[4] - '0';
        bool g2 = op.EndsWith("_g2", StringComparison.Ordinal);
        return Block.MBConv(channels, k, e, stride, act, groups: g2 ? 2 : 1, shuffle: g2, forceExpand: e == 1);
    }

    /// <summary>
    /// The FBNet space in HW-NAS-Bench's CIFAR setting (../shared/data/README.md): stem 3x3 s1 to 16;
    /// 7 stages of 1,4,4,4,4,4,1 layers, out 16,24,32,64,112,184,352, first strides 1,1,2,2,1,2,1;
    /// head 1x1 to 1504; 100 classes. Ops per layer: FBNetOps (g2 = grouped 1x1 convs, 2 groups + shuffle;
    /// FBNet keeps the 1x1 expand conv at e=1). Skip where stride or channels change is 1x1 conv + BN + ReLU.
    /// </summary>
    static LayeredSpace FBNet()
    {
        var a = Activation.Relu;
        int[] n = { 1, 4, 4, 4, 4, 4, 1 }, outs = { 16, 24, 32, 64, 112, 184, 352 }, strides = { 1, 1, 2, 2, 1, 2, 1 };
        var slots = new List<Slot>();
        for (int s = 0; s < n.Length; s++)
            for (int l = 0; l < n[s]; l++)
            {
                int c = outs[s], st = l == 0 ? strides[s] : 1;
                slots.Add(new Slot(null, FBNetOps.Select(op => new Candidate(op, FBNetBlock(op, c, st, a))).ToList()));
            }
        var stem = new List<Block> { Block.ConvBnAct(16, 3, 1, a) };
        var head = new Head { Convs = { Block.ConvBnAct(1504, 1, 1, a) } };
        return new LayeredSpace("fbnet", new InputShape(3, 32, 32), 100, stem, slots, head);
    }
}
