using Tailor.Arch;
using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Models.SinglePath;

/// <summary>Options of the single-path supernet that are deviations from (or choices within) the paper.</summary>
public sealed record SupernetOptions
{
    public NormMode Norm { get; init; } = NormMode.Rms;
    /// <summary>Multiply the masked expansion channels by their indicators after BN+act and gate the residual branch
    /// by d_e1, so the supernet computes exactly the decoded child (the paper leaves BN(0) = beta constants in).</summary>
    public bool ExactMasking { get; init; } = true;
    public BuildOptions Build { get; init; } = BuildOptions.TensorFlow;

    /// <summary>The paper's formulation: raw norms, no extra masking.</summary>
    public static SupernetOptions Faithful { get; } = new() { Norm = NormMode.Raw, ExactMasking = false };
}

/// <summary>What a searchable layer can become, read from the space's candidates.</summary>
public sealed record LayerChoices(int[] Kernels, int[] Expansions, bool SearchSe, bool Skippable, SqueezeExcite? Se)
{
    public static LayerChoices From(IReadOnlyList<Candidate> cands, string where)
    {
        var mb = cands.Where(c => c.Block.Kind == BlockKind.MBConv).Select(c => c.Block).ToList();
        bool skip = cands.Any(c => c.Block.Kind == BlockKind.Skip);
        int[] ks = mb.Select(b => b.Kernel).Distinct().OrderBy(x => x).ToArray();
        int[] es = mb.Select(b => b.Expansion).Distinct().OrderBy(x => x).ToArray();
        var ses = mb.Select(b => b.Se).Distinct().ToList();
        bool searchSe = ses.Count == 2 && ses.Contains(null);
        var se = mb.FirstOrDefault(b => b.Se != null)?.Se;
        int expect = ks.Length * es.Length * (searchSe ? 2 : 1);
        if (mb.Count != expect || mb.Any(b => b.Groups != 1 || b.Shuffle || b.ForceExpand))
            throw new TailorException($"{where}: single-path superkernels need a full kernel x expansion (x SE) grid of plain MBConv candidates; got {string.Join(", ", cands.Select(c => c.Name))}");
        return new LayerChoices(ks, es, searchSe, skip, se);
    }
}

/// <summary>
/// A searchable MBConv layer: 1x1 expand at full width (e_max*Cin) + BN + act, superkernel depthwise
/// + BN + act, optional (searchable) SE, 1x1 project + BN, residual when allowed.
/// </summary>
public sealed class SuperMBConv : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv_pw;
    private readonly BatchNorm2d bn1;
    private readonly nn.Module<Tensor, Tensor> act1;
    private readonly Superkernel conv_dw;
    private readonly BatchNorm2d bn2;
    private readonly nn.Module<Tensor, Tensor> act2;
    private readonly SqueezeExciteModule? se;
    private readonly Parameter? t_se;
    private readonly Conv2d conv_pwl;
    private readonly BatchNorm2d bn3;
    private readonly bool _residual, _exact;

    public LayerChoices Choices { get; }
    public Superkernel Kernel => conv_dw;
    /// <summary>SE indicator of the last forward (null when SE is not searched).</summary>
    public Tensor? LastSe { get; private set; }

    public SuperMBConv(LayerInfo info, LayerChoices choices, SupernetOptions o) : base("SuperMBConv")
    {
        Choices = choices;
        long cin = info.InChannels, cmax = cin * choices.Expansions[^1], cout = info.OutChannels;
        var b = info.Block!;
        conv_pw = Layers.Conv(cin, cmax, 1);
        bn1 = Layers.Bn(cmax, o.Build);
        act1 = Layers.Act(b.Act);
        conv_dw = new Superkernel(cin, choices.Kernels, choices.Expansions, b.Stride, choices.Skippable) { Norm = o.Norm };
        bn2 = Layers.Bn(cmax, o.Build);
        act2 = Layers.Act(b.Act);
        if (choices.Se is { } s)
        {
            se = new SqueezeExciteModule(cmax, s.Reduced((int)cin, (int)cmax), s.Act, s.Gate);
            if (choices.SearchSe) t_se = new Parameter(zeros(1));
        }
        conv_pwl = Layers.Conv(cmax, cout, 1);
        bn3 = Layers.Bn(cout, o.Build);
        _residual = b.Stride == 1 && cin == cout;
        _exact = o.ExactMasking;
        RegisterComponents();
        Layers.Initialize(this, o.Build);
        conv_dw.ResetParameters(); // the superkernel's own init (std sqrt(2/(k*k)))
    }

    public Parameter? SeThreshold => t_se;

    Tensor? SeIndicator(bool dropout)
    {
        if (t_se is null || se is null) return null;
        var w = se.named_parameters().First(p => p.name == "conv_reduce.weight").parameter;
        var d = Indicator.StraightThrough(Indicator.GroupNorm(w, conv_dw.Norm) - t_se[0]);
        return dropout && conv_dw.IndicatorKeep is double keep ? Indicator.Dropout(d.unsqueeze(0), keep, conv_dw.DropoutGenerator)[0] : d;
    }

    public override Tensor forward(Tensor x)
    {
        var h = act1.call(bn1.call(conv_pw.call(x)));
        h = act2.call(bn2.call(conv_dw.call(h)));
        var dec = conv_dw.Last!;
        Tensor? mask = _exact ? conv_dw.ChannelMask(dec.De) : null;
        if (se is not null)
        {
            // SE pools over the channels it sees, so the mask goes on the activations before it
            if (mask is not null) { h = h * mask.view(1, -1, 1, 1); mask = null; }
            var dse = SeIndicator(training);
            LastSe = dse;
            h = dse is null ? se.call(h) : h.Plus(dse * (se.call(h) - h));
        }
        // Without SE the channel mask is folded into the project conv's input channels:
        // conv(h * m, W) == conv(h, W * m) for a 1x1 conv, and the weight is ~100x smaller than h.
        h = mask is null ? conv_pwl.call(h) : nn.functional.conv2d(h, conv_pwl.weight! * mask.view(1, -1, 1, 1), conv_pwl.bias);
        h = bn3.call(h);
        if (_exact && Choices.Skippable) h = h * dec.De[0];
        return _residual ? h.Plus(x) : h;
    }

    /// <summary>Decoded candidate name ("skip", "k5_e6", "k3_e3_se", ...) from the hard indicators.</summary>
    public string DecodeName()
    {
        var (k, e, skip) = conv_dw.Decode();
        if (skip) return "skip";
        bool withSe = Choices.Se != null && (!Choices.SearchSe || SeOn());
        return Spaces.CandidateName(k, e, Choices.SearchSe && withSe);
    }

    bool SeOn()
    {
        using var _ = no_grad();
        using var s = NewDisposeScope();
        return SeIndicator(false)!.item<float>() > 0.5f;
    }

    public float SeMargin()
    {
        if (t_se is null) return float.NaN;
        using var _ = no_grad();
        using var s = NewDisposeScope();
        var w = se!.named_parameters().First(p => p.name == "conv_reduce.weight").parameter;
        return (Indicator.GroupNorm(w, conv_dw.Norm) - t_se[0]).item<float>();
    }
}

/// <summary>
/// The over-parameterized single-path supernet of a <see cref="LayeredSpace"/>: fixed stem, fixed
/// blocks and head as in the space; every searchable layer a <see cref="SuperMBConv"/>.
/// </summary>
public sealed class SinglePathSupernet : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> stem;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> head;
    private readonly Dropout dropout;
    private readonly Linear classifier;
    private readonly List<SuperMBConv> _layers = new();

    public LayeredSpace Space { get; }
    public IReadOnlyList<SuperMBConv> SearchLayers => _layers;

    public SinglePathSupernet(LayeredSpace space, SupernetOptions? options = null) : base("SinglePathSupernet")
    {
        var o = options ?? new SupernetOptions();
        Space = space;
        // shapes: analyse the largest member (every layer at its largest kernel and expansion)
        var largest = Enumerable.Range(0, space.LayerCount).Select(l =>
        {
            var ch = space.Choices(l);
            return ch.Select((c, i) => (c, i)).Where(x => x.c.Block.Kind == BlockKind.MBConv)
                .OrderBy(x => x.c.Block.Expansion).ThenBy(x => x.c.Block.Kernel).ThenBy(x => x.c.Block.Se != null).Last().i;
        }).ToArray();
        var an = ArchAnalysis.Analyze(space.Build(largest));
        int row = 0;
        stem = new ModuleList<nn.Module<Tensor, Tensor>>(space.Stem.Select(_ => ConvNet.Make(an.Layers[row++], o.Build)).ToArray());
        var bl = new List<nn.Module<Tensor, Tensor>>();
        int layer = 0;
        for (int s = 0; s < space.Slots.Count; s++, row++)
        {
            if (!space.Slots[s].Searchable) { bl.Add(ConvNet.Make(an.Layers[row], o.Build)); continue; }
            var ch = LayerChoices.From(space.Choices(layer), $"space:{space.Name} layer {layer}");
            var m = new SuperMBConv(an.Layers[row], ch, o);
            _layers.Add(m);
            bl.Add(m);
            layer++;
        }
        blocks = new ModuleList<nn.Module<Tensor, Tensor>>(bl.ToArray());
        head = new ModuleList<nn.Module<Tensor, Tensor>>(space.Head.Convs.Select(_ => ConvNet.Make(an.Layers[row++], o.Build)).ToArray());
        dropout = nn.Dropout(space.Head.Dropout);
        classifier = nn.Linear(an.FeatureChannels, space.Classes);
        RegisterComponents();
        // fixed parts initialised like the originals; superkernels keep their own init
        foreach (var m in stem) Layers.Initialize(m, o.Build);
        foreach (var m in bl.Where(m => m is not SuperMBConv)) Layers.Initialize(m, o.Build);
        foreach (var m in head) Layers.Initialize(m, o.Build);
        Layers.Initialize(classifier, o.Build);
    }

    public override Tensor forward(Tensor x)
    {
        foreach (var m in stem) x = m.call(x);
        foreach (var m in blocks) x = m.call(x);
        foreach (var m in head) x = m.call(x);
        return classifier.call(dropout.call(x.mean(new long[] { 2, 3 })));
    }

    /// <summary>Phase-1 indicator dropout (keep probability), or null for none.</summary>
    public void SetIndicatorDropout(double? keep, Generator? gen)
    {
        foreach (var l in _layers) { l.Kernel.IndicatorKeep = keep; l.Kernel.DropoutGenerator = gen; }
    }

    public IEnumerable<Parameter> Thresholds() => _layers.SelectMany(l =>
        new[] { l.Kernel.KernelThresholds, l.Kernel.ExpandThresholds }.Concat(l.SeThreshold is { } t ? new[] { t } : Array.Empty<Parameter>()));

    /// <summary>Non-BN variables (weight decay applies to these, thresholds included) and BN variables.</summary>
    public (List<Parameter> decay, List<Parameter> noDecay) ParameterGroups()
    {
        var bnParams = new HashSet<Parameter>(modules().OfType<BatchNorm2d>().SelectMany(b => b.parameters()));
        var all = parameters().ToList();
        return (all.Where(p => !bnParams.Contains(p)).ToList(), all.Where(p => bnParams.Contains(p)).ToList());
    }

    /// <summary>Candidate names decoded from the current weights and thresholds.</summary>
    public string[] DecodeNames() => _layers.Select(l => l.DecodeName()).ToArray();

    /// <summary>Choice indices into the space's candidates.</summary>
    public int[] DecodeChoices()
    {
        var names = DecodeNames();
        return names.Select((n, l) =>
        {
            int i = Space.Choices(l).ToList().FindIndex(c => c.Name == n);
            return i >= 0 ? i : throw new InvalidOperationException($"decoded '{n}' is not a candidate of layer {l}");
        }).ToArray();
    }

    public Architecture Decode(string? name = null) => Space.Build(DecodeChoices(), name);
}
