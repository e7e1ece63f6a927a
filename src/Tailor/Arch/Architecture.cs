namespace Tailor.Arch;

/// <summary>Activation functions the IR knows. Names in JSON are the lower-case forms.</summary>
public enum Activation { None, Relu, Relu6, Swish, HSwish, Sigmoid, HSigmoid }

public enum BlockKind { ConvBnAct, MBConv, Skip }

/// <summary>Squeeze-and-excitation: global pool, 1x1 reduce (bias) + act, 1x1 expand (bias) + gate.</summary>
/// <param name="Ratio">reduced channels = max(1, floor(base * ratio)).</param>
/// <param name="Base">"in": base is the block's input channels (MnasNet, EfficientNet); "expanded": the expanded width.</param>
public sealed record SqueezeExcite(double Ratio, string Base = "in", Activation Act = Activation.Relu, Activation Gate = Activation.Sigmoid)
{
    public int Reduced(int blockIn, int expanded) =>
        Math.Max(1, (int)Math.Floor((Base == "expanded" ? expanded : blockIn) * Ratio + 1e-9));
}

/// <summary>
/// One block of the network. Which fields matter depends on <see cref="Kind"/>:
/// conv_bn_act: Out, Kernel, Stride, Groups, Act, Padding.
/// mbconv: Out, Kernel (depthwise), Expansion, Stride, Act, Se, Groups (of the 1x1 convs), Shuffle, ForceExpand.
/// skip: Out, Stride, Act (used only when it must be a 1x1 conv + BN + act).
/// </summary>
public sealed record Block
{
    public BlockKind Kind { get; init; }
    public int Out { get; init; }
    public int Kernel { get; init; } = 3;
    public int Stride { get; init; } = 1;
    public int Expansion { get; init; } = 1;
    public Activation Act { get; init; } = Activation.Relu;
    public SqueezeExcite? Se { get; init; }
    public int Groups { get; init; } = 1;
    public bool Shuffle { get; init; }
    /// <summary>Keep the 1x1 expand conv even at expansion 1 (FBNet's IRF block does).</summary>
    public bool ForceExpand { get; init; }
    /// <summary>conv_bn_act only: explicit zero padding; null means kernel/2 ("same" for odd kernels).</summary>
    public int? Padding { get; init; }
    /// <summary>Optional declared input channels, checked against the inferred ones.</summary>
    public int? In { get; init; }

    public static Block ConvBnAct(int out_, int kernel = 3, int stride = 1, Activation act = Activation.Relu, int groups = 1) =>
        new() { Kind = BlockKind.ConvBnAct, Out = out_, Kernel = kernel, Stride = stride, Act = act, Groups = groups };

    public static Block MBConv(int out_, int kernel, int expansion, int stride, Activation act = Activation.Relu,
        SqueezeExcite? se = null, int groups = 1, bool shuffle = false, bool forceExpand = false) =>
        new() { Kind = BlockKind.MBConv, Out = out_, Kernel = kernel, Expansion = expansion, Stride = stride, Act = act,
                Se = se, Groups = groups, Shuffle = shuffle, ForceExpand = forceExpand };

    public static Block Skip(int out_, int stride = 1, Activation act = Activation.Relu) =>
        new() { Kind = BlockKind.Skip, Out = out_, Stride = stride, Act = act };

    /// <summary>MBConv with an expand conv (expansion &gt; 1, or forced).</summary>
    public bool HasExpand => Kind == BlockKind.MBConv && (Expansion != 1 || ForceExpand);
}

/// <summary>Head: 1x1 conv-bn-act layers, global average pool, dropout, linear classifier (with bias).</summary>
public sealed record Head
{
    public List<Block> Convs { get; init; } = new();
    public double Dropout { get; init; }
}

public sealed record InputShape(int Channels, int Height, int Width)
{
    public override string ToString() => $"{Channels}x{Height}x{Width}";

    /// <summary>Parses "CxHxW" (e.g. "3x32x32").</summary>
    public static InputShape Parse(string s)
    {
        var parts = s.Split('x', 'X');
        if (parts.Length != 3 || !int.TryParse(parts[0], out int c) || !int.TryParse(parts[1], out int h) || !int.TryParse(parts[2], out int w) || c < 1 || h < 1 || w < 1)
            throw new TailorException($"input shape '{s}': expected CxHxW with positive integers, e.g. 3x32x32");
        return new InputShape(c, h, w);
    }
}

/// <summary>
/// The architecture IR: a plain, versioned description of a ConvNet, free of any deep-learning
/// runtime. Builders (TorchSharp, ONNX) and counters read it; search spaces produce it.
/// </summary>
public sealed record Architecture
{
    public const string FormatName = "tailor-arch";
    public const int CurrentVersion = 1;

    public string Name { get; init; } = "net";
    public InputShape Input { get; init; } = new(3, 224, 224);
    public int Classes { get; init; } = 1000;
    public List<Block> Stem { get; init; } = new();
    public List<Block> Blocks { get; init; } = new();
    public Head Head { get; init; } = new();

    /// <summary>All blocks in execution order with their JSON location ("stem[0]", "blocks[3]", "head.convs[0]").</summary>
    public IEnumerable<(string Path, Block Block)> AllBlocks()
    {
        for (int i = 0; i < Stem.Count; i++) yield return ($"stem[{i}]", Stem[i]);
        for (int i = 0; i < Blocks.Count; i++) yield return ($"blocks[{i}]", Blocks[i]);
        for (int i = 0; i < Head.Convs.Count; i++) yield return ($"head.convs[{i}]", Head.Convs[i]);
    }

    public Architecture WithInput(InputShape input) => this with { Input = input };
    public Architecture WithClasses(int classes) => this with { Classes = classes };
}
