using Tailor.Arch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Models;

/// <summary>
/// A TorchSharp network built from the IR. state_dict keys: stem.{i}.*, blocks.{i}.*, head.{i}.*,
/// classifier.{weight,bias} (conv_bn_act: conv/bn; mbconv: conv_pw/bn1/conv_dw/bn2/se/conv_pwl/bn3).
/// </summary>
public sealed class ConvNet : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> stem;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> head;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    public Architecture Arch { get; }
    public ArchAnalysis Analysis { get; }

    public ConvNet(Architecture arch, BuildOptions? options = null) : base("ConvNet")
    {
        var o = options ?? BuildOptions.Default;
        Arch = arch;
        Analysis = ArchAnalysis.Analyze(arch);
        var rows = Analysis.Layers;
        int i = 0;
        stem = new ModuleList<nn.Module<Tensor, Tensor>>(arch.Stem.Select(_ => Make(rows[i++], o)).ToArray());
        blocks = new ModuleList<nn.Module<Tensor, Tensor>>(arch.Blocks.Select(_ => Make(rows[i++], o)).ToArray());
        head = new ModuleList<nn.Module<Tensor, Tensor>>(arch.Head.Convs.Select(_ => Make(rows[i++], o)).ToArray());
        dropout = nn.Dropout(o.Dropout ?? arch.Head.Dropout);
        classifier = nn.Linear(Analysis.FeatureChannels, arch.Classes);
        RegisterComponents();
        Layers.Initialize(this, o);
    }

    internal static nn.Module<Tensor, Tensor> Make(LayerInfo l, BuildOptions o)
    {
        var b = l.Block!;
        return b.Kind switch
        {
            BlockKind.ConvBnAct => new ConvBnAct(l.InChannels, l.OutChannels, b.Kernel, b.Stride, b.Groups, b.Padding, b.Act, o),
            BlockKind.MBConv => new MBConvModule(l, o),
            BlockKind.Skip => new SkipModule(l, o),
            _ => throw new TailorException($"{l.Path}: block kind {b.Kind} has no TorchSharp builder"),
        };
    }

    /// <summary>Feature map before pooling (after the head convs).</summary>
    public Tensor Features(Tensor x)
    {
        foreach (var m in stem) x = m.call(x);
        foreach (var m in blocks) x = m.call(x);
        foreach (var m in head) x = m.call(x);
        return x;
    }

    public override Tensor forward(Tensor x)
    {
        var f = Features(x).mean(new long[] { 2, 3 });
        return classifier.call(dropout.call(f));
    }

    public IList<nn.Module<Tensor, Tensor>> Blocks => blocks;
    public IList<nn.Module<Tensor, Tensor>> Stem => stem;
    public IList<nn.Module<Tensor, Tensor>> HeadConvs => head;

    public long ParameterCount() => parameters().Sum(p => p.numel());
}
