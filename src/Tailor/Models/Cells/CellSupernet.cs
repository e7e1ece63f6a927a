using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Models.Cells;

/// <summary>Regularisers applied to op outputs inside a supernet while it trains.</summary>
public sealed class PathRegulariser
{
    /// <summary>DropBlock rate on skip_connect outputs (MSG-DAS's Dropblock-Identity); 0 = off.</summary>
    public double SkipDropBlock { get; set; }
    public int BlockSize { get; set; } = 3;
    public Generator? Generator { get; set; }
}

/// <summary>
/// A weight-sharing cell supernet. Cells are grouped: all cells of a group share one set of
/// architecture parameters (one <see cref="CellPlan"/> per group per forward). DARTS uses one group
/// per cell type, H-DAS one per stage and per reduction cell.
/// </summary>
public abstract class CellSupernet : nn.Module<Tensor, Tensor>
{
    protected CellSupernet(string name) : base(name) { }

    public abstract string Space { get; }
    public abstract IReadOnlyList<string> OpNames { get; }
    public abstract int NoneOp { get; }
    public abstract int SkipOp { get; }
    /// <summary>Number of cell groups (alpha sets).</summary>
    public abstract int Groups { get; }
    /// <summary>Name of each group (alpha_normal, alpha_stage1, ...).</summary>
    public abstract IReadOnlyList<string> GroupNames { get; }
    /// <summary>Edges of the cells of group g.</summary>
    public abstract int EdgesOf(int group);
    /// <summary>Every candidate op module of every cell (for counting calls).</summary>
    public abstract IEnumerable<CellOp> CandidateOps();
    public PathRegulariser Regulariser { get; } = new();

    public abstract Tensor Forward(Tensor x, IReadOnlyList<CellPlan> plans);

    /// <summary>Not callable without a plan; use <see cref="Forward(Tensor, IReadOnlyList{CellPlan})"/>.</summary>
    public override Tensor forward(Tensor x) => throw new InvalidOperationException("a cell supernet needs a plan per cell group: call Forward(x, plans)");

    /// <summary>Weights (all parameters except architecture parameters, which live outside the module).</summary>
    public IReadOnlyList<Parameter> WeightParameters() => parameters().ToList();

    protected Tensor MixEdge(Tensor x, IList<CellOp> ops, PathWeight[] paths, ref Tensor? acc)
    {
        foreach (var p in paths)
        {
            var y = ops[p.Op].call(x);
            if (p.Op == SkipOp && training && Regulariser.SkipDropBlock > 0 && ops[p.Op] is IdentityOp)
                y = DropBlock.Apply(y, Regulariser.SkipDropBlock, Regulariser.BlockSize, Regulariser.Generator);
            if (p.Weight is { } w) acc = acc is null ? y * w : acc.PlusProduct(y, w);
            else acc = KeptScalars.Accumulate(acc, y);
        }
        return acc!;
    }

    public void ResetCalls() { foreach (var o in CandidateOps()) o.ResetCalls(); }
    public long TotalCalls() => CandidateOps().Sum(o => o.Calls);
}

/// <summary>Configuration of the NAS-Bench-201 supernet.</summary>
public sealed record Nb201SupernetConfig
{
    /// <summary>Channels of the first stage (NAS-Bench-201: 16).</summary>
    public int C { get; init; } = 8;
    /// <summary>Cells per stage (NAS-Bench-201: 5).</summary>
    public int N { get; init; } = 1;
    public int Classes { get; init; } = 10;
    public int InputChannels { get; init; } = 3;
    /// <summary>One alpha set per stage (H-DAS) instead of one shared by all cells.</summary>
    public bool StageSpecific { get; init; }
}

/// <summary>
/// The NAS-Bench-201 search network (AutoDL's TinyNetworkDarts): stem conv3x3 + BN; 3 stages of N
/// search cells (C, 2C, 4C channels) joined by residual reduction blocks; BN + ReLU; global pool;
/// linear. Cell ops use BN without affine parameters; every BN uses batch statistics.
/// Keys: stem.*, cells.{i}.edges.{e}.{op}.*, lastact.*, classifier.*.
/// </summary>
public sealed class Nb201Supernet : CellSupernet
{
    private readonly Sequential stem;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> cells;
    private readonly Sequential lastact;
    private readonly Linear classifier;
    readonly int[] _cellGroup; // -1 for reduction blocks
    static readonly CellBn OuterBn = new(true, false);

    public Nb201SupernetConfig Config { get; }
    public override string Space => "nb201";
    public override IReadOnlyList<string> OpNames => Nb201Cell.OpNames;
    public override int NoneOp => Nb201Cell.None;
    public override int SkipOp => Nb201Cell.Skip;
    public override int Groups => Config.StageSpecific ? 3 : 1;
    public override IReadOnlyList<string> GroupNames => Config.StageSpecific ? new[] { "alpha_stage1", "alpha_stage2", "alpha_stage3" } : new[] { "alpha" };
    public override int EdgesOf(int group) => Nb201Cell.Edges;
    public IReadOnlyList<int> CellGroups => _cellGroup;

    public Nb201Supernet(Nb201SupernetConfig cfg) : base("Nb201Supernet")
    {
        if (cfg.C < 1 || cfg.N < 1) throw new TailorException($"nb201 supernet: C ({cfg.C}) and N ({cfg.N}) must be positive");
        Config = cfg;
        stem = nn.Sequential(nn.Conv2d(cfg.InputChannels, cfg.C, 3, padding: 1, bias: false), OuterBn.Make(cfg.C));
        var list = new List<nn.Module<Tensor, Tensor>>();
        var groups = new List<int>();
        int c = cfg.C;
        for (int stage = 0; stage < 3; stage++)
        {
            if (stage > 0) { list.Add(new ResNetBasicBlock(c, 2 * c, OuterBn)); groups.Add(-1); c *= 2; }
            for (int i = 0; i < cfg.N; i++) { list.Add(new Nb201SearchCell(c)); groups.Add(cfg.StageSpecific ? stage : 0); }
        }
        cells = new ModuleList<nn.Module<Tensor, Tensor>>(list.ToArray());
        _cellGroup = groups.ToArray();
        lastact = nn.Sequential(OuterBn.Make(c), nn.ReLU());
        classifier = nn.Linear(c, cfg.Classes);
        RegisterComponents();
    }

    public override IEnumerable<CellOp> CandidateOps() =>
        cells.OfType<Nb201SearchCell>().SelectMany(c => c.Edges.SelectMany(e => e));

    public override Tensor Forward(Tensor x, IReadOnlyList<CellPlan> plans)
    {
        x = Layers.ChannelsLast(x); // see Layers.ChannelsLast
        if (plans.Count != Groups) throw new ArgumentException($"nb201 supernet: {plans.Count} plans for {Groups} cell groups");
        var h = stem.call(x);
        for (int i = 0; i < cells.Count; i++)
            h = cells[i] is Nb201SearchCell sc ? sc.Forward(h, plans[_cellGroup[i]], this) : cells[i].call(h);
        h = lastact.call(h).mean(new long[] { 2, 3 });
        return classifier.call(h);
    }

    internal Tensor Mix(Tensor x, IList<CellOp> ops, PathWeight[] paths, ref Tensor? acc) => MixEdge(x, ops, paths, ref acc);
}

/// <summary>A NAS-Bench-201 search cell: node j = sum over i &lt; j of mixed edge (i -&gt; j); output node 3.</summary>
public sealed class Nb201SearchCell : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<ModuleList<CellOp>> edges;
    public IList<ModuleList<CellOp>> Edges => edges;

    public Nb201SearchCell(long c) : base("Nb201SearchCell")
    {
        var bn = CellBn.Search;
        var list = new List<ModuleList<CellOp>>();
        for (int e = 0; e < Nb201Cell.Edges; e++)
            list.Add(new ModuleList<CellOp>(
                new ZeroOp(1), new IdentityOp(), new ReluConvBn(c, c, 1, 1, 0, 1, bn), new ReluConvBn(c, c, 3, 1, 1, 1, bn), new PoolOp(false, c, 1, null)));
        edges = new ModuleList<ModuleList<CellOp>>(list.ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new InvalidOperationException("call Forward(x, plan, net)");

    internal Tensor Forward(Tensor x, CellPlan plan, Nb201Supernet net)
    {
        var nodes = new Tensor[Nb201Cell.Nodes];
        nodes[0] = x;
        int e = 0;
        for (int j = 1; j < Nb201Cell.Nodes; j++)
        {
            Tensor? acc = null;
            for (int i = 0; i < j; i++, e++) net.Mix(nodes[i], edges[e], plan.Edges[e], ref acc);
            nodes[j] = plan.WithOthers(acc ?? zeros_like(x), e - j, j);
        }
        return nodes[^1];
    }
}

/// <summary>Configuration of the DARTS search network.</summary>
public sealed record DartsSupernetConfig
{
    public int C { get; init; } = 16;
    /// <summary>Cells in all (reduction cells at layers/3 and 2*layers/3). DARTS searches with 8.</summary>
    public int Layers { get; init; } = 8;
    public int Classes { get; init; } = 10;
    public int InputChannels { get; init; } = 3;
    public int StemMultiplier { get; init; } = 3;
    /// <summary>H-DAS: one alpha set per stage's normal cells and one per reduction cell (5 groups) instead of normal + reduce.</summary>
    public bool StageSpecific { get; init; }

    public (int[] Reductions, int[] StageOf) Layout()
    {
        int r1 = Layers / 3, r2 = 2 * Layers / 3;
        var stage = new int[Layers];
        for (int i = 0; i < Layers; i++) stage[i] = i < r1 ? 0 : i == r1 ? -1 : i < r2 ? 1 : i == r2 ? -2 : 2;
        return (new[] { r1, r2 }, stage);
    }
}

/// <summary>
/// The DARTS search network: stem conv3x3 to 3C + BN; cells with 2 inputs (the two previous cells),
/// 4 intermediate nodes, 14 mixed edges and the concat of the 4 nodes; reduction cells (stride 2 on
/// the edges from the inputs, channels doubled) at layers/3 and 2*layers/3; global pool; linear.
/// Keys: stem.*, cells.{i}.preprocess{0,1}.*, cells.{i}.edges.{e}.{op}.*, classifier.*.
/// </summary>
public sealed class DartsSupernet : CellSupernet
{
    private readonly Sequential stem;
    private readonly ModuleList<DartsSearchCell> cells;
    private readonly Linear classifier;
    readonly int[] _cellGroup;

    public DartsSupernetConfig Config { get; }
    public override string Space => "darts";
    public override IReadOnlyList<string> OpNames => DartsCell.OpNames;
    public override int NoneOp => DartsCell.None;
    public override int SkipOp => DartsCell.Skip;
    public override int Groups => Config.StageSpecific ? 5 : 2;
    public override IReadOnlyList<string> GroupNames => Config.StageSpecific
        ? new[] { "alpha_stage1", "alpha_stage2", "alpha_stage3", "alpha_reduce1", "alpha_reduce2" }
        : new[] { "alpha_normal", "alpha_reduce" };
    public override int EdgesOf(int group) => DartsCell.SearchEdges;
    public IReadOnlyList<int> CellGroups => _cellGroup;
    /// <summary>Whether group g holds reduction cells.</summary>
    public bool IsReduceGroup(int g) => Config.StageSpecific ? g >= 3 : g == 1;

    public DartsSupernet(DartsSupernetConfig cfg) : base("DartsSupernet")
    {
        if (cfg.C < 2 || cfg.C % 2 != 0) throw new TailorException($"darts supernet: C must be an even number >= 2, got {cfg.C}");
        if (cfg.Layers < 3) throw new TailorException($"darts supernet: at least 3 layers (2 of them reduction cells), got {cfg.Layers}");
        Config = cfg;
        int cStem = cfg.StemMultiplier * cfg.C;
        stem = nn.Sequential(nn.Conv2d(cfg.InputChannels, cStem, 3, padding: 1, bias: false), new CellBn(true, false).Make(cStem));
        var (_, stageOf) = cfg.Layout();
        int cpp = cStem, cp = cStem, cur = cfg.C;
        bool reductionPrev = false;
        var list = new List<DartsSearchCell>();
        _cellGroup = new int[cfg.Layers];
        for (int i = 0; i < cfg.Layers; i++)
        {
            bool reduction = stageOf[i] < 0;
            if (reduction) cur *= 2;
            list.Add(new DartsSearchCell(cpp, cp, cur, reduction, reductionPrev));
            reductionPrev = reduction;
            cpp = cp; cp = DartsCell.Steps * cur;
            _cellGroup[i] = cfg.StageSpecific ? (reduction ? 2 - stageOf[i] : stageOf[i]) : (reduction ? 1 : 0);
        }
        cells = new ModuleList<DartsSearchCell>(list.ToArray());
        classifier = nn.Linear(cp, cfg.Classes);
        RegisterComponents();
    }

    public override IEnumerable<CellOp> CandidateOps() => cells.SelectMany(c => c.Edges.SelectMany(e => e));

    public override Tensor Forward(Tensor x, IReadOnlyList<CellPlan> plans)
    {
        x = Layers.Nchw(x); // not channels-last: see Layers.Nchw
        if (plans.Count != Groups) throw new ArgumentException($"darts supernet: {plans.Count} plans for {Groups} cell groups");
        var s0 = stem.call(x);
        var s1 = s0;
        for (int i = 0; i < cells.Count; i++)
        {
            var s = cells[i].Forward(s0, s1, plans[_cellGroup[i]], this);
            s0 = s1; s1 = s;
        }
        return classifier.call(s1.mean(new long[] { 2, 3 }));
    }

    internal Tensor Mix(Tensor x, IList<CellOp> ops, PathWeight[] paths, ref Tensor? acc) => MixEdge(x, ops, paths, ref acc);

    /// <summary>The candidate ops of one DARTS edge (PRIMITIVES order); pools are followed by BN (affine = false) as in DARTS's MixedOp.</summary>
    public static CellOp[] EdgeOps(long c, long stride, CellBn bn, bool bnAfterPool) =>
        Enumerable.Range(0, DartsCell.OpNames.Length).Select(op => EdgeOp(op, c, stride, bn, bnAfterPool)).ToArray();

    public static CellOp EdgeOp(int op, long c, long stride, CellBn bn, bool bnAfterPool) => op switch
    {
        0 => new ZeroOp(stride),
        1 => new PoolOp(true, c, stride, bnAfterPool ? bn : null),
        2 => new PoolOp(false, c, stride, bnAfterPool ? bn : null),
        3 => stride == 1 ? new IdentityOp() : new FactorizedReduce(c, c, bn),
        4 => new SepConv(c, c, 3, stride, 1, bn),
        5 => new SepConv(c, c, 5, stride, 2, bn),
        6 => new DilConv(c, c, 3, stride, 2, 2, bn),
        7 => new DilConv(c, c, 5, stride, 4, 2, bn),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };
}

/// <summary>A DARTS search cell (see <see cref="DartsSupernet"/>).</summary>
public sealed class DartsSearchCell : nn.Module<Tensor, Tensor>
{
    private readonly CellOp preprocess0, preprocess1;
    private readonly ModuleList<ModuleList<CellOp>> edges;
    public bool Reduction { get; }
    public IList<ModuleList<CellOp>> Edges => edges;

    public DartsSearchCell(long cpp, long cp, long c, bool reduction, bool reductionPrev) : base("DartsSearchCell")
    {
        var bn = CellBn.Search;
        Reduction = reduction;
        preprocess0 = reductionPrev ? new FactorizedReduce(cpp, c, bn) : new ReluConvBn(cpp, c, 1, 1, 0, 1, bn);
        preprocess1 = new ReluConvBn(cp, c, 1, 1, 0, 1, bn);
        var list = new List<ModuleList<CellOp>>();
        for (int step = 0; step < DartsCell.Steps; step++)
            for (int j = 0; j < 2 + step; j++)
                list.Add(new ModuleList<CellOp>(DartsSupernet.EdgeOps(c, reduction && j < 2 ? 2 : 1, bn, bnAfterPool: true)));
        edges = new ModuleList<ModuleList<CellOp>>(list.ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new InvalidOperationException("call Forward(s0, s1, plan, net)");

    internal Tensor Forward(Tensor s0, Tensor s1, CellPlan plan, DartsSupernet net)
    {
        var states = new List<Tensor>(2 + DartsCell.Steps) { preprocess0.call(s0), preprocess1.call(s1) };
        int e = 0;
        for (int step = 0; step < DartsCell.Steps; step++)
        {
            Tensor? acc = null;
            int n = states.Count;
            for (int j = 0; j < n; j++, e++) net.Mix(states[j], edges[e], plan.Edges[e], ref acc);
            states.Add(plan.WithOthers(acc ?? ((ZeroOp)edges[e - n][0]).Zeros(states[0]), e - n, n));
        }
        return cat(states.Skip(2).ToArray(), 1);
    }
}
