using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Models.Cells;

/// <summary>Configuration of H-DAS's stage-level search network (DARTS space, fixed cells).</summary>
public sealed record HdasStageConfig
{
    public int C { get; init; } = 8;
    /// <summary>Most cells a stage may have; the depth search chooses 1..MaxCells.</summary>
    public int MaxCells { get; init; } = 3;
    /// <summary>How many earlier stage nodes a cell's first input may come from (the sliding window).</summary>
    public int Window { get; init; } = 2;
    public int Classes { get; init; } = 10;
    public int InputChannels { get; init; } = 3;
}

/// <summary>
/// H-DAS's stage-level search over fixed cells (DARTS space). Stage nodes: -1 (the input before the
/// stage input), 0 (the stage input: stem or reduction cell output) and one per cell. Cell 1 reads
/// (node -1, node 0); cell j &gt;= 2 reads s1 = node j-1 and s0 = sum_i softmax(beta_j)_i * node_i over the
/// window i in [max(0, j-1-Window), j-2]: the inter-cell ops are parameter-free (identity, weighted).
/// A stage of depth d outputs its last two nodes (d-1, d); the depth is searched as softmax(gamma_s)
/// over d in 1..MaxCells and the stage output is the expectation of those pairs. The stem is 4C wide
/// (not DARTS's 3C) so that every node of a stage has one shape and can be mixed.
/// Cells use search BN (no affine, batch statistics).
/// </summary>
public sealed class HdasStageNetwork : nn.Module<Tensor, Tensor>
{
    private readonly Sequential stem;
    private readonly ModuleList<DartsInferCell> cells;
    private readonly ModuleList<DartsInferCell> reductions;
    private readonly Linear classifier;
    readonly int[][] _windows; // per cell j (1-based index j-1): candidate s0 nodes
    public HdasStageConfig Config { get; }
    public IReadOnlyList<DartsCell> Normals { get; }
    public IReadOnlyList<DartsCell> Reductions { get; }
    public const int StemMultiplier = 4;

    public HdasStageNetwork(HdasStageConfig cfg, IReadOnlyList<DartsCell> normals, IReadOnlyList<DartsCell> reductionCells) : base("HdasStageNetwork")
    {
        if (normals.Count != 3 || reductionCells.Count != 2) throw new TailorException("H-DAS stage network: needs 3 normal cells (one per stage) and 2 reduction cells");
        if (cfg.MaxCells < 1) throw new TailorException($"H-DAS: max cells per stage must be at least 1, got {cfg.MaxCells}");
        if (cfg.Window < 1) throw new TailorException($"H-DAS: window must be at least 1, got {cfg.Window}");
        if (cfg.C < 2 || cfg.C % 2 != 0) throw new TailorException($"H-DAS: C must be an even number >= 2, got {cfg.C}");
        Config = cfg; Normals = normals; Reductions = reductionCells;
        var bn = CellBn.Search;
        long c = cfg.C, cs = StemMultiplier * c;
        stem = nn.Sequential(nn.Conv2d(cfg.InputChannels, cs, 3, padding: 1, bias: false), new CellBn(true, false).Make(cs));
        var cl = new List<DartsInferCell>();
        var rl = new List<DartsInferCell>();
        for (int s = 0; s < 3; s++)
        {
            if (s > 0)
            {
                long cin = 4 * c;
                c *= 2;
                rl.Add(new DartsInferCell(new DartsWiring.CellInfo(0, reductionCells[s - 1], true, -s, 0, 0, cin, false, cin, c, 0, 0, 0), bn));
            }
            for (int j = 1; j <= cfg.MaxCells; j++)
            {
                bool s0Reduced = s > 0 && j == 1;
                long c0 = s0Reduced ? 2 * c : 4 * c; // node -1 of stages 2, 3 is the previous stage's output (4 * C/2 = 2C channels)
                cl.Add(new DartsInferCell(new DartsWiring.CellInfo(0, normals[s], false, s, 0, 0, c0, s0Reduced, 4 * c, c, 0, 0, 0), bn));
            }
        }
        cells = new ModuleList<DartsInferCell>(cl.ToArray());
        reductions = new ModuleList<DartsInferCell>(rl.ToArray());
        classifier = nn.Linear(4 * c, cfg.Classes);
        _windows = new int[cfg.MaxCells][];
        for (int j = 1; j <= cfg.MaxCells; j++)
            _windows[j - 1] = j == 1 ? new[] { -1 } : Enumerable.Range(Math.Max(0, j - 1 - cfg.Window), j - 2 - Math.Max(0, j - 1 - cfg.Window) + 1).ToArray();
        RegisterComponents();
    }

    /// <summary>Candidate s0 nodes of cell j (1-based).</summary>
    public IReadOnlyList<int> Window(int j) => _windows[j - 1];

    /// <summary>Number of inter-cell (beta) parameters per stage: cells j &gt;= 2 with more than one candidate.</summary>
    public int[] BetaSizes() => _windows.Select(w => w.Length).ToArray();

    /// <summary>
    /// Forward with inter-cell weights <paramref name="beta"/>[stage][cell j-1] (softmax over the window,
    /// null for single-candidate cells) and depth weights <paramref name="depth"/>[stage] (softmax over 1..MaxCells).
    /// </summary>
    public Tensor Forward(Tensor x, Tensor?[][] beta, Tensor[] depth)
    {
        x = Layers.Nchw(x); // not channels-last: see Layers.Nchw
        int m = Config.MaxCells;
        var s0 = stem.call(x);
        Tensor a = s0, b = s0; // the stage's input pair (node -1, node 0)
        for (int s = 0; s < 3; s++)
        {
            if (s > 0)
            {
                var r = reductions[s - 1].Forward(a, b, 0, null);
                a = b; b = r;
            }
            var nodes = new List<Tensor> { a, b }; // index i + 1 holds node i
            for (int j = 1; j <= m; j++)
            {
                var cell = cells[s * m + j - 1];
                Tensor in0;
                var win = _windows[j - 1];
                if (win.Length == 1) in0 = nodes[win[0] + 1];
                else
                {
                    var w = beta[s][j - 1]!;
                    in0 = nodes[win[0] + 1] * w[0];
                    for (int k = 1; k < win.Length; k++) in0 = in0 + nodes[win[k] + 1] * w[k];
                }
                nodes.Add(cell.Forward(in0, nodes[j], 0, null));
            }
            // stage output pair: expectation over depths d of (node d-1, node d)
            var p = depth[s];
            Tensor na = nodes[1] * p[0], nb = nodes[2] * p[0];
            for (int d = 2; d <= m; d++) { na = na + nodes[d] * p[d - 1]; nb = nb + nodes[d + 1] * p[d - 1]; }
            a = na; b = nb;
        }
        return classifier.call(b.mean(new long[] { 2, 3 }));
    }

    public override Tensor forward(Tensor x) => throw new InvalidOperationException("call Forward(x, beta, depth)");

    /// <summary>The derived network: per stage the most likely depth and each cell's most likely s0 source (stem 4C).</summary>
    public CellNetSpec Derive(float[][][] beta, float[][] depth, Arch.InputShape input, string name = "hdas")
    {
        var stages = new List<CellStage>();
        for (int s = 0; s < 3; s++)
        {
            int d = ArgMax(depth[s]) + 1;
            var s0 = new List<int>();
            for (int j = 1; j <= d; j++)
            {
                var win = _windows[j - 1];
                s0.Add(win.Length == 1 ? win[0] : win[ArgMax(beta[s][j - 1])]);
            }
            stages.Add(new CellStage { Cells = d, Cell = Normals[s].ToString(), S0 = s0 });
        }
        return new CellNetSpec
        {
            Name = name, Space = "darts", Input = input, Classes = Config.Classes, Channels = Config.C,
            StemMultiplier = StemMultiplier, Stages = stages, Reductions = Reductions.Select(r => r.ToString()).ToArray(),
        };
    }

    static int ArgMax(float[] v) { int b = 0; for (int i = 1; i < v.Length; i++) if (v[i] > v[b]) b = i; return b; }
}
