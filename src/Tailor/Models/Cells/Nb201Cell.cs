using System.Text;

namespace Tailor.Models.Cells;

/// <summary>
/// A NAS-Bench-201 cell genotype: 4 nodes, 6 edges (1&lt;-0, 2&lt;-0, 2&lt;-1, 3&lt;-0, 3&lt;-1, 3&lt;-2), one op
/// per edge. <see cref="ToString"/> writes the benchmark's string exactly
/// (<c>|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|</c>)
/// and <see cref="Parse"/> accepts exactly that form.
/// </summary>
public sealed class Nb201Cell : IEquatable<Nb201Cell>
{
    public const int Nodes = 4, Edges = 6;
    public static readonly string[] OpNames = { "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3" };
    public const int None = 0, Skip = 1, Conv1x1 = 2, Conv3x3 = 3, AvgPool = 4;
    /// <summary>(to, from) of each edge, in the string's order.</summary>
    public static readonly (int To, int From)[] EdgeNodes = { (1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2) };

    readonly int[] _ops;
    public IReadOnlyList<int> Ops => _ops;

    public Nb201Cell(IReadOnlyList<int> ops)
    {
        if (ops.Count != Edges) throw new TailorException($"NAS-Bench-201 cell: {ops.Count} ops, needs {Edges}");
        for (int e = 0; e < Edges; e++)
            if ((uint)ops[e] >= OpNames.Length) throw new TailorException($"NAS-Bench-201 cell: op index {ops[e]} on edge {e} (must be 0..{OpNames.Length - 1})");
        _ops = ops.ToArray();
    }

    public static int EdgeIndex(int to, int from) => to * (to - 1) / 2 + from;

    public string OpName(int edge) => OpNames[_ops[edge]];

    public override string ToString()
    {
        var sb = new StringBuilder(96);
        for (int node = 1, e = 0; node < Nodes; node++)
        {
            if (node > 1) sb.Append('+');
            sb.Append('|');
            for (int from = 0; from < node; from++, e++) sb.Append(OpNames[_ops[e]]).Append('~').Append(from).Append('|');
        }
        return sb.ToString();
    }

    /// <summary>Parses the benchmark's string exactly: no spaces, node groups joined by '+', inputs in order ~0, ~1, ...</summary>
    public static Nb201Cell Parse(string s)
    {
        string Bad(string why) => $"NAS-Bench-201 genotype '{s}': {why} (expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2| with ops {string.Join(", ", OpNames)})";
        if (string.IsNullOrEmpty(s)) throw new TailorException(Bad("empty"));
        var groups = s.Split('+');
        if (groups.Length != Nodes - 1) throw new TailorException(Bad($"{groups.Length} node groups, needs {Nodes - 1}"));
        var ops = new int[Edges];
        int count = groups.Sum(g => Math.Max(0, g.Split('|', StringSplitOptions.RemoveEmptyEntries).Length));
        if (count != Edges) throw new TailorException(Bad($"{count} edges, needs {Edges}"));
        int e = 0;
        for (int n = 0; n < groups.Length; n++)
        {
            string g = groups[n];
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
        return new Nb201Cell(ops);
    }

    /// <summary>Whether the output node (3) is reachable from the input node (0) through ops other than none.</summary>
    public bool Connected()
    {
        var reach = new bool[Nodes];
        reach[0] = true;
        for (int e = 0; e < Edges; e++)
        {
            var (to, from) = EdgeNodes[e];
            if (_ops[e] != None && reach[from]) reach[to] = true;
        }
        return reach[Nodes - 1];
    }

    /// <summary>Whether some op on a path from input to output has parameters (a convolution).</summary>
    public bool HasParametricPath()
    {
        // forward reachability from 0 and backward reachability to 3 over non-none edges
        var fwd = new bool[Nodes]; fwd[0] = true;
        for (int e = 0; e < Edges; e++) { var (t, f) = EdgeNodes[e]; if (_ops[e] != None && fwd[f]) fwd[t] = true; }
        var bwd = new bool[Nodes]; bwd[Nodes - 1] = true;
        for (int e = Edges - 1; e >= 0; e--) { var (t, f) = EdgeNodes[e]; if (_ops[e] != None && bwd[t]) bwd[f] = true; }
        for (int e = 0; e < Edges; e++)
        {
            var (t, f) = EdgeNodes[e];
            if ((_ops[e] == Conv1x1 || _ops[e] == Conv3x3) && fwd[f] && bwd[t]) return true;
        }
        return false;
    }

    public bool Equals(Nb201Cell? o) => o is not null && _ops.AsSpan().SequenceEqual(o._ops);
    public override bool Equals(object? obj) => Equals(obj as Nb201Cell);
    public override int GetHashCode() => ToString().GetHashCode();
}
