using Tailor.Benchmarks;

namespace Tailor.Models.Cells;

/// <summary>
/// A NAS-Bench-201 cell genotype: 4 nodes, 6 edges (1&lt;-0, 2&lt;-0, 2&lt;-1, 3&lt;-0, 3&lt;-1, 3&lt;-2), one op
/// per edge. Parsing and printing are the benchmark's exact strings, done by <see cref="Nb201Arch"/>
/// (<c>|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|</c>);
/// this type adds what the supernets need (op constants, edge wiring, structural checks).
/// </summary>
public sealed class Nb201Cell : IEquatable<Nb201Cell>
{
    public const int Nodes = 4, Edges = Nb201Arch.Edges;
    public static readonly string[] OpNames = Nb201Arch.OpNames;
    public const int None = 0, Skip = 1, Conv1x1 = 2, Conv3x3 = 3, AvgPool = 4;
    /// <summary>(to, from) of each edge, in the string's order.</summary>
    public static readonly (int To, int From)[] EdgeNodes = Nb201Arch.EdgeNodes;

    readonly int[] _ops;
    public IReadOnlyList<int> Ops => _ops;
    public Nb201Arch Arch { get; }

    public Nb201Cell(IReadOnlyList<int> ops)
    {
        if (ops.Count != Edges) throw new TailorException($"NAS-Bench-201 cell: {ops.Count} ops, needs {Edges}");
        Arch = Nb201Arch.FromOps(ops.ToArray());
        _ops = ops.ToArray();
    }

    public Nb201Cell(Nb201Arch arch) : this(arch.Ops()) { }

    public static int EdgeIndex(int to, int from) => to * (to - 1) / 2 + from;

    public string OpName(int edge) => OpNames[_ops[edge]];

    public override string ToString() => Arch.ToString();

    /// <summary>Parses the benchmark's string exactly (<see cref="Nb201Arch.Parse"/>).</summary>
    public static Nb201Cell Parse(string s) => new(Nb201Arch.Parse(s));

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
