using Tailor.Arch;
using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Models.SinglePath;

/// <summary>
/// The multi-path alternative Single-Path NAS is measured against (DARTS-style mixed op): every
/// searchable layer computes every candidate with its own weights and mixes them by softmax(alpha).
/// Used by the efficiency benchmark; same stem, fixed blocks and head as the single-path supernet.
/// </summary>
public sealed class MultiPathSupernet : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> stem, head;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;
    private readonly Dropout dropout;
    private readonly Linear classifier;
    private readonly Parameter alpha;
    private readonly bool[] _searchable;
    private readonly int[] _ops;

    public MultiPathSupernet(LayeredSpace space, BuildOptions? build = null) : base("MultiPathSupernet")
    {
        var o = build ?? BuildOptions.TensorFlow;
        var an = ArchAnalysis.Analyze(space.Build(new int[space.LayerCount]));
        int row = 0;
        stem = new ModuleList<nn.Module<Tensor, Tensor>>(space.Stem.Select(_ => ConvNet.Make(an.Layers[row++], o)).ToArray());
        var bl = new List<nn.Module<Tensor, Tensor>>();
        _searchable = new bool[space.Slots.Count];
        var ops = new List<int>();
        int layer = 0;
        for (int s = 0; s < space.Slots.Count; s++, row++)
        {
            if (!space.Slots[s].Searchable) { bl.Add(ConvNet.Make(an.Layers[row], o)); continue; }
            _searchable[s] = true;
            var info = an.Layers[row];
            var cands = space.Choices(layer).Select(c =>
            {
                var b = c.Block;
                var ci = ArchAnalysis.Analyze(new Architecture
                {
                    Input = new InputShape(info.InChannels, info.InH, info.InW), Classes = 1, Blocks = { b },
                }).Layers[0];
                return ConvNet.Make(ci, o);
            }).ToArray();
            bl.Add(new MixedOp(cands));
            ops.Add(cands.Length);
            layer++;
        }
        _ops = ops.ToArray();
        blocks = new ModuleList<nn.Module<Tensor, Tensor>>(bl.ToArray());
        head = new ModuleList<nn.Module<Tensor, Tensor>>(space.Head.Convs.Select(_ => ConvNet.Make(an.Layers[row++], o)).ToArray());
        dropout = nn.Dropout(space.Head.Dropout);
        classifier = nn.Linear(an.FeatureChannels, space.Classes);
        alpha = new Parameter(zeros(_ops.Length, _ops.Max()));
        RegisterComponents();
        Layers.Initialize(this, o);
    }

    public override Tensor forward(Tensor x)
    {
        foreach (var m in stem) x = m.call(x);
        int l = 0;
        for (int s = 0; s < blocks.Count; s++)
        {
            if (!_searchable[s]) { x = blocks[s].call(x); continue; }
            var mixed = (MixedOp)blocks[s];
            mixed.Weights = alpha[l, TensorIndex.Slice(0, _ops[l])].softmax(0);
            x = mixed.call(x);
            l++;
        }
        foreach (var m in head) x = m.call(x);
        return classifier.call(dropout.call(x.mean(new long[] { 2, 3 })));
    }
}

/// <summary>sum_i w_i * op_i(x) over every candidate op (weights set by the owner before each call).</summary>
public sealed class MixedOp : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> ops;
    public Tensor? Weights { get; set; }

    public MixedOp(nn.Module<Tensor, Tensor>[] candidates) : base("MixedOp")
    {
        ops = new ModuleList<nn.Module<Tensor, Tensor>>(candidates);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var w = Weights ?? throw new InvalidOperationException("MixedOp: weights not set");
        Tensor? mix = null;
        for (int i = 0; i < ops.Count; i++)
        {
            var y = w[i] * ops[i].call(x);
            mix = KeptScalars.Accumulate(mix, y);
        }
        return mix!;
    }
}
