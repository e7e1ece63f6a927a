using Tailor.Arch;
using Tailor.Models.SinglePath;
using Tailor.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Search.SinglePath;

/// <summary>Per-layer latency entries (ms) of a space on a target plus the measured fixed part.</summary>
public sealed class LayerLatencies
{
    public double FixedMs { get; }
    /// <summary>[layer][candidate index in the space's choices] in ms; skip (identity) is 0.</summary>
    public double[][] Entries { get; }
    public LayeredSpace Space { get; }

    public LayerLatencies(LayeredSpace space, double fixedMs, Func<int, string, double> entry)
    {
        Space = space;
        FixedMs = fixedMs;
        Entries = Enumerable.Range(0, space.LayerCount)
            .Select(l => space.Choices(l).Select(c => c.Name == "skip" && c.Block.Kind == BlockKind.Skip && IsIdentity(space, l) ? 0.0 : entry(l, c.Name)).ToArray())
            .ToArray();
    }

    static bool IsIdentity(LayeredSpace s, int l)
    {
        var a = s.Build(new int[s.LayerCount]);
        var an = ArchAnalysis.Analyze(a);
        int row = s.Stem.Count + s.BlockIndex(l);
        return an.Layers[row].InChannels == an.Layers[row].OutChannels && s.Choices(l).First(c => c.Name == "skip").Block.Stride == 1;
    }

    public double Entry(int layer, string name) => Entries[layer][Space.Choices(layer).ToList().FindIndex(c => c.Name == name)];

    /// <summary>LUT prediction of a member of the space: fixed + sum of its layers' entries.</summary>
    public double Predict(IReadOnlyList<int> choice) => FixedMs + choice.Select((c, l) => Entries[l][c]).Sum();

    /// <summary>Fastest and slowest members the table can express.</summary>
    public (double Min, double Max) Range() =>
        (FixedMs + Entries.Sum(e => e.Min()), FixedMs + Entries.Sum(e => e.Max()));
}

public enum RuntimeFormula
{
    /// <summary>The paper's: R_l = d50*(R53 + d100*(R56 - R53)) * (ratio + (1 - ratio)*d5), ratio = R36/R56 (kernels {3,5}, expansions {3,6}, no SE).</summary>
    Paper,
    /// <summary>Multilinear in the indicators: sum over candidates of the product of their selection indicators times the entry;
    /// equals the table entry of the decoded op exactly (also for 3x3-3, 7x7 kernels, more expansions and searchable SE).</summary>
    Exact,
}

/// <summary>The differentiable runtime R(d) of Single-Path NAS over a supernet's indicators.</summary>
public sealed class RuntimeModel
{
    public LayerLatencies Table { get; }
    public RuntimeFormula Formula { get; }
    readonly int[][] _index; // [layer][kernelIdx * E * S + expIdx * S + seIdx] -> candidate index; skip separately
    readonly int[] _skip;

    public RuntimeModel(LayerLatencies table, SinglePathSupernet net, RuntimeFormula? formula = null)
    {
        Table = table;
        var l0 = net.SearchLayers[0].Choices;
        bool paperable = net.SearchLayers.All(l => l.Choices.Kernels.SequenceEqual(new[] { 3, 5 }) && l.Choices.Expansions.SequenceEqual(new[] { 3, 6 }) && !l.Choices.SearchSe);
        Formula = formula ?? (paperable ? RuntimeFormula.Paper : RuntimeFormula.Exact);
        if (Formula == RuntimeFormula.Paper && !paperable)
            throw new TailorException("runtime formula 'paper' needs kernels {3,5}, expansions {3,6} and no searchable SE; use 'exact'");
        var space = net.Space;
        _index = new int[space.LayerCount][];
        _skip = new int[space.LayerCount];
        for (int l = 0; l < space.LayerCount; l++)
        {
            var ch = net.SearchLayers[l].Choices;
            var names = space.Choices(l).Select(c => c.Name).ToList();
            int S = ch.SearchSe ? 2 : 1;
            _index[l] = new int[ch.Kernels.Length * ch.Expansions.Length * S];
            for (int k = 0; k < ch.Kernels.Length; k++)
                for (int e = 0; e < ch.Expansions.Length; e++)
                    for (int s = 0; s < S; s++)
                        _index[l][(k * ch.Expansions.Length + e) * S + s] = names.IndexOf(Spaces.CandidateName(ch.Kernels[k], ch.Expansions[e], s == 1));
            _skip[l] = names.IndexOf("skip");
            if (_index[l].Any(i => i < 0)) throw new TailorException($"space:{space.Name} layer {l}: candidate names do not follow k<K>_e<E>[_se]");
        }
    }

    double R(int l, int cand) => Table.Entries[l][cand];

    /// <summary>R in ms as a differentiable tensor, from the decisions of the supernet's last forward.</summary>
    public Tensor Forward(SinglePathSupernet net)
    {
        Tensor total = tensor(Table.FixedMs, dtype: float32);
        for (int l = 0; l < net.SearchLayers.Count; l++)
        {
            var layer = net.SearchLayers[l];
            var dec = layer.Kernel.Last ?? throw new InvalidOperationException("run a forward pass before computing the runtime");
            total = total.Plus(LayerMs(l, layer, dec.Dk, dec.De, layer.LastSe));
        }
        return total;
    }

    Tensor LayerMs(int l, SuperMBConv layer, Tensor[] dk, Tensor[] de, Tensor? dse)
    {
        var ch = layer.Choices;
        if (Formula == RuntimeFormula.Paper)
        {
            int i33 = _index[l][0], i36 = _index[l][1], i53 = _index[l][2], i56 = _index[l][3];
            double ratio = R(l, i36) / R(l, i56);
            var rc = de[0] * de[1].Times(R(l, i56) - R(l, i53)).PlusScalar(R(l, i53));
            return rc * dk[0].Times(1 - ratio).PlusScalar(ratio);
        }
        // selection weights of each kernel / expansion along the nested chains
        var pk = Chain(dk, ch.Kernels.Length);
        var pe = Chain(de.Skip(1).ToArray(), ch.Expansions.Length);
        int S = ch.SearchSe ? 2 : 1;
        Tensor? sum = null;
        for (int k = 0; k < ch.Kernels.Length; k++)
            for (int e = 0; e < ch.Expansions.Length; e++)
                for (int s = 0; s < S; s++)
                {
                    var w = pk[k] * pe[e];
                    if (S == 2) w = w * (s == 1 ? dse! : dse!.OneMinus());
                    var term = w.Times(R(l, _index[l][(k * ch.Expansions.Length + e) * S + s]));
                    sum = KeptScalars.Accumulate(sum, term);
                }
        var active = de[0] * sum!;
        if (_skip[l] >= 0 && R(l, _skip[l]) != 0) active = active.Plus(de[0].OneMinus().Times(R(l, _skip[l])));
        return active;
    }

    /// <summary>P(j) = d_1 ... d_j * (1 - d_{j+1}) for a chain of n options with n-1 indicators.</summary>
    static Tensor[] Chain(Tensor[] d, int n)
    {
        var p = new Tensor[n];
        Tensor run = ones(1)[0];
        for (int j = 0; j < n; j++)
        {
            p[j] = j < n - 1 ? run * d[j].OneMinus() : run;
            if (j < n - 1) run = run * d[j];
        }
        return p;
    }
}
