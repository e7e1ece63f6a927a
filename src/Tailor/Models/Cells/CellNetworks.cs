using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Models.Cells;

/// <summary>Builds trainable TorchSharp networks from <see cref="CellNetSpec"/> (affine BN with running statistics).</summary>
public static class CellNetworks
{
    public static nn.Module<Tensor, Tensor> Build(CellNetSpec spec)
    {
        spec.Validate();
        return spec.IsNb201 ? new Nb201Network(spec) : new DartsNetwork(spec);
    }

    public static long ParameterCount(nn.Module m) => m.parameters().Sum(p => p.numel());
}

/// <summary>
/// NAS-Bench-201's network (AutoDL's TinyNetwork) for fixed cells. Keys: stem.*, cells.{i}.edges.{k}.*
/// (one module per non-'none' edge, in edge order), lastact.*, classifier.*.
/// </summary>
public sealed class Nb201Network : nn.Module<Tensor, Tensor>
{
    private readonly Sequential stem;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> cells;
    private readonly Sequential lastact;
    private readonly Linear classifier;
    public CellNetSpec Spec { get; }

    public Nb201Network(CellNetSpec spec) : base("Nb201Network")
    {
        Spec = spec;
        var bn = CellBn.Train;
        int c = spec.Channels;
        stem = nn.Sequential(nn.Conv2d(spec.Input.Channels, c, 3, padding: 1, bias: false), bn.Make(c));
        var list = new List<nn.Module<Tensor, Tensor>>();
        for (int s = 0; s < 3; s++)
        {
            if (s > 0) { list.Add(new ResNetBasicBlock(c, 2 * c, bn)); c *= 2; }
            var cell = spec.Nb201Cell(s);
            for (int i = 0; i < spec.Stages[s].Cells; i++) list.Add(new Nb201InferCell(cell, c, bn));
        }
        cells = new ModuleList<nn.Module<Tensor, Tensor>>(list.ToArray());
        lastact = nn.Sequential(bn.Make(c), nn.ReLU());
        classifier = nn.Linear(c, spec.Classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        x = Layers.ChannelsLast(x); // see Layers.ChannelsLast
        var h = stem.call(x);
        foreach (var c in cells) h = c.call(h);
        return classifier.call(lastact.call(h).mean(new long[] { 2, 3 }));
    }
}

/// <summary>A fixed NAS-Bench-201 cell: node j = sum of its non-'none' incoming ops (zero if all are 'none').</summary>
public sealed class Nb201InferCell : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<CellOp> edges;
    readonly (int To, int From)[] _wires;

    public Nb201InferCell(Nb201Cell cell, long c, CellBn bn) : base("Nb201InferCell")
    {
        var ops = new List<CellOp>();
        var wires = new List<(int, int)>();
        for (int e = 0; e < Nb201Cell.Edges; e++)
        {
            CellOp? op = cell.Ops[e] switch
            {
                Nb201Cell.Skip => new IdentityOp(),
                Nb201Cell.Conv1x1 => new ReluConvBn(c, c, 1, 1, 0, 1, bn),
                Nb201Cell.Conv3x3 => new ReluConvBn(c, c, 3, 1, 1, 1, bn),
                Nb201Cell.AvgPool => new PoolOp(false, c, 1, null),
                _ => null,
            };
            if (op == null) continue;
            ops.Add(op);
            wires.Add(Nb201Cell.EdgeNodes[e]);
        }
        edges = new ModuleList<CellOp>(ops.ToArray());
        _wires = wires.ToArray();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var nodes = new Tensor?[Nb201Cell.Nodes];
        nodes[0] = x;
        for (int k = 0; k < _wires.Length; k++)
        {
            var (to, from) = _wires[k];
            var src = nodes[from] ?? zeros_like(x);
            var y = edges[k].call(src);
            nodes[to] = KeptScalars.Accumulate(nodes[to], y);
        }
        return nodes[^1] ?? zeros_like(x);
    }
}

/// <summary>
/// DARTS's NetworkCIFAR (no auxiliary head) for a <see cref="CellNetSpec"/>, with the optional
/// inter-cell wiring of H-DAS (each cell's first input from any earlier node of its stage).
/// Drop path (DARTS: on every non-identity op output while training) with <see cref="DropPathProb"/>.
/// Keys: stem.*, cells.{i}.preprocess{0,1}.*, cells.{i}.ops.{k}.*, classifier.*.
/// </summary>
public sealed class DartsNetwork : nn.Module<Tensor, Tensor>
{
    private readonly Sequential stem;
    private readonly ModuleList<DartsInferCell> cells;
    private readonly Linear classifier;
    readonly DartsWiring.WiringPlan _plan;
    public CellNetSpec Spec { get; }
    public double DropPathProb { get; set; }
    public Generator? DropPathGenerator { get; set; }

    public DartsNetwork(CellNetSpec spec) : base("DartsNetwork")
    {
        Spec = spec;
        var bn = CellBn.Train;
        long cs = (long)spec.StemMultiplier * spec.Channels;
        stem = nn.Sequential(nn.Conv2d(spec.Input.Channels, cs, 3, padding: 1, bias: false), bn.Make(cs));
        _plan = DartsWiring.Plan(spec);
        cells = new ModuleList<DartsInferCell>(_plan.Cells.Select(ci => new DartsInferCell(ci, bn)).ToArray());
        classifier = nn.Linear(_plan.FinalChannels, spec.Classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        x = Layers.Nchw(x); // not channels-last: see Layers.Nchw
        var nodes = new Tensor[_plan.NodeCount];
        nodes[0] = stem.call(x);
        double p = training ? DropPathProb : 0;
        for (int i = 0; i < cells.Count; i++)
        {
            var ci = _plan.Cells[i];
            nodes[ci.OutNode] = cells[i].Forward(nodes[ci.S0Node], nodes[ci.S1Node], p, DropPathGenerator);
        }
        return classifier.call(nodes[_plan.OutputNode].mean(new long[] { 2, 3 }));
    }
}

/// <summary>A fixed DARTS cell: preprocessing, 8 ops (2 per node), concat of the 4 intermediate nodes.</summary>
public sealed class DartsInferCell : nn.Module<Tensor, Tensor>
{
    private readonly CellOp preprocess0, preprocess1;
    private readonly ModuleList<CellOp> ops;
    readonly int[] _inputs;

    public DartsInferCell(DartsWiring.CellInfo ci, CellBn bn) : base("DartsInferCell")
    {
        long c = ci.C;
        preprocess0 = ci.S0Reduced ? new FactorizedReduce(ci.C0In, c, bn) : new ReluConvBn(ci.C0In, c, 1, 1, 0, 1, bn);
        preprocess1 = new ReluConvBn(ci.C1In, c, 1, 1, 0, 1, bn);
        var list = new List<CellOp>();
        _inputs = new int[DartsCell.Pairs];
        for (int k = 0; k < DartsCell.Pairs; k++)
        {
            var (op, input) = ci.Genotype.Nodes[k];
            _inputs[k] = input;
            long stride = ci.Reduction && input < 2 ? 2 : 1;
            list.Add(DartsSupernet.EdgeOp(op, c, stride, bn, bnAfterPool: false));
        }
        ops = new ModuleList<CellOp>(list.ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new InvalidOperationException("call Forward(s0, s1, dropPath, generator)");

    internal Tensor Forward(Tensor s0, Tensor s1, double dropPath, Generator? gen)
    {
        var states = new List<Tensor>(2 + DartsCell.Steps) { preprocess0.call(s0), preprocess1.call(s1) };
        for (int i = 0; i < DartsCell.Steps; i++)
        {
            Tensor sum = null!;
            for (int k = 2 * i; k < 2 * i + 2; k++)
            {
                var h = ops[k].call(states[_inputs[k]]);
                if (dropPath > 0 && ops[k] is not IdentityOp) h = DropPath.Apply(h, dropPath, gen);
                sum = k == 2 * i ? h : sum.Plus(h);
            }
            states.Add(sum);
        }
        return cat(states.Skip(2).ToArray(), 1);
    }
}
