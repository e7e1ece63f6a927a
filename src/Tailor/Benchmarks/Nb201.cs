using System.Text;
using Tailor.Search;
using Tailor.Util;

namespace Tailor.Benchmarks;

/// <summary>
/// A NAS-Bench-201 cell: 4 nodes, 6 edges (1&lt;-0, 2&lt;-0, 2&lt;-1, 3&lt;-0, 3&lt;-1, 3&lt;-2), one of 5 ops
/// per edge. <see cref="Code"/> is the base-5 number whose digit e (least significant first) is edge
/// e's op index; it is not the benchmark's official index (the table maps the two).
/// </summary>
public readonly record struct Nb201Arch
{
    public const int Edges = 6, NumOps = 5, Count = 15625;
    public static readonly string[] OpNames = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"];
    /// <summary>(to-node, from-node) of each edge, in the string's order.</summary>
    public static readonly (int To, int From)[] EdgeNodes = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];
    static readonly int[] Pow5 = [1, 5, 25, 125, 625, 3125];

    public int Code { get; }

    public Nb201Arch(int code)
    {
        if ((uint)code >= Count) throw new TailorException($"NAS-Bench-201 code {code}: must be in 0..{Count - 1}");
        Code = code;
    }

    public static Nb201Arch FromOps(ReadOnlySpan<int> ops)
    {
        if (ops.Length != Edges) throw new TailorException($"NAS-Bench-201: {ops.Length} ops, need {Edges}");
        int c = 0;
        for (int e = 0; e < Edges; e++)
        {
            if ((uint)ops[e] >= NumOps) throw new TailorException($"NAS-Bench-201: op index {ops[e]} on edge {e} (must be 0..4)");
            c += ops[e] * Pow5[e];
        }
        return new Nb201Arch(c);
    }

    public int Op(int edge) => Code / Pow5[edge] % NumOps;
    public int[] Ops() { var o = new int[Edges]; for (int e = 0; e < Edges; e++) o[e] = Op(e); return o; }
    public Nb201Arch WithOp(int edge, int op) => new(Code + (op - Op(edge)) * Pow5[edge]);

    /// <summary>The benchmark's string, e.g. |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(96);
        int e = 0;
        for (int node = 1; node <= 3; node++)
        {
            if (node > 1) sb.Append('+');
            sb.Append('|');
            for (int from = 0; from < node; from++, e++) sb.Append(OpNames[Op(e)]).Append('~').Append((char)('0' + from)).Append('|');
        }
        return sb.ToString();
    }

    /// <summary>Parses the benchmark's string exactly (no spaces, ops and node numbers as the benchmark writes them).</summary>
    public static Nb201Arch Parse(string s)
    {
        string Bad(string why) => $"NAS-Bench-201 arch '{s}': {why} (expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2| with ops {string.Join(", ", OpNames)})";
        if (string.IsNullOrEmpty(s)) throw new TailorException(Bad("empty"));
        var nodes = s.Split('+');
        if (nodes.Length != 3) throw new TailorException(Bad($"{nodes.Length} node groups, need 3"));
        var ops = new int[Edges];
        int e = 0;
        for (int n = 0; n < 3; n++)
        {
            string g = nodes[n];
            if (g.Length < 2 || g[0] != '|' || g[^1] != '|') throw new TailorException(Bad($"node {n + 1} group must start and end with '|'"));
            var parts = g[1..^1].Split('|');
            if (parts.Length != n + 1) throw new TailorException(Bad($"node {n + 1} has {parts.Length} inputs, needs {n + 1}"));
            for (int i = 0; i < parts.Length; i++, e++)
            {
                int t = parts[i].LastIndexOf('~');
                if (t < 0) throw new TailorException(Bad($"'{parts[i]}' is not op~node"));
                string op = parts[i][..t], from = parts[i][(t + 1)..];
                if (from != i.ToString()) throw new TailorException(Bad($"'{parts[i]}': input {i} of node {n + 1} must be ~{i}"));
                int k = Array.IndexOf(OpNames, op);
                if (k < 0) throw new TailorException(Bad($"unknown op '{op}'"));
                ops[e] = k;
            }
        }
        return FromOps(ops);
    }
}

/// <summary>The NAS-Bench-201 cell space: 5^6 = 15,625 cells; mutation changes one edge's op; one-hot encoding (6 x 5).</summary>
public sealed class Nb201Space : ISearchSpace<Nb201Arch>
{
    static readonly Nb201Arch[] AllArchs = Enumerable.Range(0, Nb201Arch.Count).Select(c => new Nb201Arch(c)).ToArray();
    static readonly string[] Keys = AllArchs.Select(a => a.ToString()).ToArray();

    public string Name => "nb201";
    public double Size => Nb201Arch.Count;
    public IReadOnlyList<Nb201Arch> All => AllArchs;
    public int FeatureCount => Nb201Arch.Edges * Nb201Arch.NumOps;

    public Nb201Arch Sample(Rng rng) => new(rng.Next(Nb201Arch.Count));

    public Nb201Arch Mutate(Nb201Arch a, Rng rng)
    {
        int e = rng.Next(Nb201Arch.Edges);
        int op = rng.Next(Nb201Arch.NumOps - 1);
        if (op >= a.Op(e)) op++;
        return a.WithOp(e, op);
    }

    public Nb201Arch Crossover(Nb201Arch a, Nb201Arch b, Rng rng)
    {
        var ops = new int[Nb201Arch.Edges];
        for (int e = 0; e < ops.Length; e++) ops[e] = rng.Next(2) == 0 ? a.Op(e) : b.Op(e);
        return Nb201Arch.FromOps(ops);
    }

    public IReadOnlyList<Nb201Arch> Neighbors(Nb201Arch a)
    {
        var res = new List<Nb201Arch>(Nb201Arch.Edges * (Nb201Arch.NumOps - 1));
        for (int e = 0; e < Nb201Arch.Edges; e++)
            for (int op = 0; op < Nb201Arch.NumOps; op++)
                if (op != a.Op(e)) res.Add(a.WithOp(e, op));
        return res;
    }

    public void Encode(Nb201Arch a, Span<float> f)
    {
        f[..FeatureCount].Clear();
        for (int e = 0; e < Nb201Arch.Edges; e++) f[e * Nb201Arch.NumOps + a.Op(e)] = 1f;
    }

    public string Key(Nb201Arch a) => Keys[a.Code];
    public Nb201Arch Parse(string key) => Nb201Arch.Parse(key);

    public static int Distance(Nb201Arch a, Nb201Arch b)
    {
        int d = 0;
        for (int e = 0; e < Nb201Arch.Edges; e++) if (a.Op(e) != b.Op(e)) d++;
        return d;
    }
}
