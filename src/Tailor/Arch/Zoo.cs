namespace Tailor.Arch;

/// <summary>
/// Built-in reference networks, each as its original paper (and reference implementation) defines
/// it at 224x224x3 with 1000 classes. <see cref="Get"/> can re-target input size and classes.
/// </summary>
public static class Zoo
{
    static readonly SortedDictionary<string, (string Description, Func<Architecture> Make)> Entries = new()
    {
        ["mobilenet_v2"] = ("MobileNetV2 width 1.0 (Sandler et al. 2018; torchvision layout)", MobileNetV2),
        ["mnasnet_a1"] = ("MnasNet-A1 with squeeze-and-excitation (Tan et al. 2019, Fig. 7)", MnasNetA1),
        ["mnasnet_b1"] = ("MnasNet-B1, no SE (Tan et al. 2019; torchvision mnasnet1_0)", MnasNetB1),
        ["spnasnet"] = ("Single-Path NAS Pixel-1 network (Stamoulis et al. 2019)", SinglePathNas),
        ["efficientnet_b0"] = ("EfficientNet-B0 (Tan & Le 2019)", EfficientNetB0),
        ["fbnet_c"] = ("FBNet-C (Wu et al. 2019)", FBNetC),
        ["mobilenet_v2_cifar"] = ("MobileNetV2 for 32x32 inputs: stride-1 stem and first stride-2 stage at stride 1 (the common CIFAR variant)", MobileNetV2Cifar),
    };

    public static IEnumerable<(string Name, string Description)> List() => Entries.Select(e => (e.Key, e.Value.Description));

    public static bool Contains(string name) => Entries.ContainsKey(name);

    public static Architecture Get(string name, InputShape? input = null, int? classes = null)
    {
        if (!Entries.TryGetValue(name, out var e))
            throw new TailorException($"zoo:{name}: unknown network; available: {string.Join(", ", Entries.Keys)}");
        var a = e.Make();
        if (input != null) a = a.WithInput(input);
        if (classes is int k) a = a.WithClasses(k);
        ArchAnalysis.Analyze(a, $"zoo:{name}");
        return a;
    }

    /// <summary>Resolves "zoo:NAME" or a path to an architecture JSON file.</summary>
    public static Architecture Resolve(string spec, InputShape? input = null, int? classes = null)
    {
        Architecture a;
        if (spec.StartsWith("zoo:", StringComparison.Ordinal)) a = Get(spec[4..]);
        else if (!File.Exists(spec) && Contains(spec)) a = Get(spec);
        else a = ArchJson.Load(spec);
        if (input != null) a = a.WithInput(input);
        if (classes is int k) a = a.WithClasses(k);
        if (input != null || classes != null) ArchAnalysis.Analyze(a, spec);
        return a;
    }

    /// <summary>Appends <paramref name="n"/> MBConv layers; the stride applies to the first one only.</summary>
    static void Stage(List<Block> blocks, int n, int k, int e, int s, int c, Activation act, SqueezeExcite? se = null, bool forceExpand = false)
    {
        for (int i = 0; i < n; i++)
            blocks.Add(Block.MBConv(c, k, e, i == 0 ? s : 1, act, se, forceExpand: forceExpand));
    }

    static Architecture Net(string name, Block stem, List<Block> blocks, int headC, Activation act, double dropout) => new()
    {
        Name = name,
        Input = new InputShape(3, 224, 224),
        Classes = 1000,
        Stem = new List<Block> { stem },
        Blocks = blocks,
        Head = new Head { Convs = new List<Block> { Block.ConvBnAct(headC, 1, 1, act) }, Dropout = dropout },
    };

    static Architecture MobileNetV2()
    {
        var a = Activation.Relu6;
        var b = new List<Block>();
        // (t, c, n, s) from the paper's Table 2
        foreach (var (t, c, n, s) in new[] { (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1) })
            Stage(b, n, 3, t, s, c, a);
        return Net("mobilenet_v2", Block.ConvBnAct(32, 3, 2, a), b, 1280, a, 0.2);
    }

    static Architecture MobileNetV2Cifar()
    {
        var a = Activation.Relu6;
        var b = new List<Block>();
        foreach (var (t, c, n, s) in new[] { (1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1) })
            Stage(b, n, 3, t, s, c, a);
        var net = Net("mobilenet_v2_cifar", Block.ConvBnAct(32, 3, 1, a), b, 1280, a, 0.2);
        return net with { Input = new InputShape(3, 32, 32), Classes = 10 };
    }

    static Architecture MnasNetB1()
    {
        var a = Activation.Relu;
        var b = new List<Block> { Block.MBConv(16, 3, 1, 1, a) }; // SepConv 3x3 32->16
        foreach (var (k, s, e, c, n) in new[] { (3, 2, 3, 24, 3), (5, 2, 3, 40, 3), (5, 2, 6, 80, 3), (3, 1, 6, 96, 2), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1) })
            Stage(b, n, k, e, s, c, a);
        return Net("mnasnet_b1", Block.ConvBnAct(32, 3, 2, a), b, 1280, a, 0.2);
    }

    static Architecture MnasNetA1()
    {
        var a = Activation.Relu;
        var se = new SqueezeExcite(0.25, "in", Activation.Relu, Activation.Sigmoid);
        var b = new List<Block> { Block.MBConv(16, 3, 1, 1, a) };
        Stage(b, 2, 3, 6, 2, 24, a);
        Stage(b, 3, 5, 3, 2, 40, a, se);
        Stage(b, 4, 3, 6, 2, 80, a);
        Stage(b, 2, 3, 6, 1, 112, a, se);
        Stage(b, 3, 5, 6, 2, 160, a, se);
        Stage(b, 1, 3, 6, 1, 320, a);
        return Net("mnasnet_a1", Block.ConvBnAct(32, 3, 2, a), b, 1280, a, 0.2);
    }

    static Architecture SinglePathNas()
    {
        var a = Activation.Relu;
        var b = new List<Block> { Block.MBConv(16, 3, 1, 1, a) }; // fixed block 0
        // stage 24: 3x3-3, 3x3-3, 3x3-3, skip
        Stage(b, 3, 3, 3, 2, 24, a);
        b.Add(Block.Skip(24));
        // stages 40 and 80: 5x5-6 then three 3x3-3
        b.Add(Block.MBConv(40, 5, 6, 2, a)); Stage(b, 3, 3, 3, 1, 40, a);
        b.Add(Block.MBConv(80, 5, 6, 2, a)); Stage(b, 3, 3, 3, 1, 80, a);
        // stage 96: 5x5-6 then three 5x5-3
        b.Add(Block.MBConv(96, 5, 6, 1, a)); Stage(b, 3, 5, 3, 1, 96, a);
        // stage 192: four 5x5-6
        Stage(b, 4, 5, 6, 2, 192, a);
        b.Add(Block.MBConv(320, 3, 6, 1, a)); // fixed block 21
        return Net("spnasnet", Block.ConvBnAct(32, 3, 2, a), b, 1280, a, 0.2);
    }

    static Architecture EfficientNetB0()
    {
        var a = Activation.Swish;
        var se = new SqueezeExcite(0.25, "in", Activation.Swish, Activation.Sigmoid);
        var b = new List<Block>();
        // (k, s, e, c, n) from the paper's Table 1
        foreach (var (k, s, e, c, n) in new[] { (3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1) })
            Stage(b, n, k, e, s, c, a, se);
        return Net("efficientnet_b0", Block.ConvBnAct(32, 3, 2, a), b, 1280, a, 0.2);
    }

    static Architecture FBNetC()
    {
        var a = Activation.Relu;
        var b = new List<Block>();
        void L(int k, int e, int s, int c) => b.Add(Spaces.FBNetBlock($"k{k}_e{e}", c, s, a));
        L(3, 1, 1, 16);
        L(3, 6, 2, 24); L(3, 1, 1, 24); L(3, 1, 1, 24);
        L(5, 6, 2, 32); L(5, 3, 1, 32); L(5, 6, 1, 32); L(3, 6, 1, 32);
        L(5, 6, 2, 64); L(5, 3, 1, 64); L(5, 6, 1, 64); L(5, 6, 1, 64);
        L(5, 6, 1, 112); L(5, 6, 1, 112); L(5, 6, 1, 112); L(5, 3, 1, 112);
        L(5, 6, 2, 184); L(5, 6, 1, 184); L(5, 6, 1, 184); L(5, 6, 1, 184);
        L(3, 6, 1, 352);
        return Net("fbnet_c", Block.ConvBnAct(16, 3, 2, a), b, 1984, a, 0.2);
    }
}
