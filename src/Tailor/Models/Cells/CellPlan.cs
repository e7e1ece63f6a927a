using Tailor.Util;
using static TorchSharp.torch;

namespace Tailor.Models.Cells;

/// <summary>One op computed on an edge and the scalar it is multiplied by (null: the constant 1).</summary>
public readonly record struct PathWeight(int Op, Tensor? Weight);

/// <summary>
/// What one cell computes, edge by edge: the ops to run and their weights. DARTS runs every op with
/// its softmax weight; GDAS one op with a straight-through weight; MSG-DAS K ops; a derived cell one op
/// with weight 1. Ops not listed are not computed at all. An edge with no path contributes nothing.
/// </summary>
public sealed class CellPlan
{
    public PathWeight[][] Edges { get; }
    /// <summary>Per edge, a scalar added to the edge's node (null: none). GDAS's estimator: zero in value,
    /// it carries the gradient to the ops that were not sampled (<see cref="Search.Differentiable.GumbelSampler.TopKWithOthers"/>).</summary>
    public Tensor?[]? Others { get; }
    public CellPlan(PathWeight[][] edges, Tensor?[]? others = null) { Edges = edges; Others = others; }

    /// <summary>The node's sum with the others terms of its incoming edges [first, first + count) added.</summary>
    public Tensor WithOthers(Tensor node, int first, int count)
    {
        if (Others == null) return node;
        for (int e = first; e < first + count; e++)
            if (Others[e] is { } r) node = node.Plus(r);
        return node;
    }

    /// <summary>Every op except 'none' (which contributes zero) with weight w[e, o]; ops whose mask entry is true are left out.</summary>
    public static CellPlan Soft(Tensor w, int noneOp, bool[,]? masked = null)
    {
        int e = (int)w.shape[0], o = (int)w.shape[1];
        var edges = new PathWeight[e][];
        for (int i = 0; i < e; i++)
        {
            var row = w[i];
            var list = new List<PathWeight>(o);
            for (int k = 0; k < o; k++)
                if (k != noneOp && (masked == null || !masked[i, k])) list.Add(new PathWeight(k, row[k]));
            edges[i] = list.ToArray();
        }
        return new CellPlan(edges);
    }

    /// <summary>One op per edge with weight 1 ('none' edges compute nothing).</summary>
    public static CellPlan Fixed(IReadOnlyList<int> ops, int noneOp) =>
        new(ops.Select(op => op == noneOp ? Array.Empty<PathWeight>() : new[] { new PathWeight(op, null) }).ToArray());

    /// <summary>Sampled ops per edge (indices[e][k]) with weights w[e, k] ('none' is skipped: it contributes zero).</summary>
    public static CellPlan Sampled(int[][] indices, Tensor w, int noneOp, Tensor? others = null)
    {
        var edges = new PathWeight[indices.Length][];
        for (int i = 0; i < indices.Length; i++)
        {
            var row = w[i];
            var list = new List<PathWeight>(indices[i].Length);
            for (int k = 0; k < indices[i].Length; k++)
                if (indices[i][k] != noneOp) list.Add(new PathWeight(indices[i][k], row[k]));
            edges[i] = list.ToArray();
        }
        return new CellPlan(edges, others is null ? null : Enumerable.Range(0, indices.Length).Select(i => (Tensor?)others[i]).ToArray());
    }

    /// <summary>Per edge, a mix of fixed (one-hot) and soft edges: rows of <paramref name="fixedOps"/> that are &gt;= 0 are fixed to that op.</summary>
    public static CellPlan Partial(Tensor w, int noneOp, int[] fixedOps, bool[,]? masked = null)
    {
        var soft = Soft(w, noneOp, masked);
        for (int e = 0; e < fixedOps.Length; e++)
            if (fixedOps[e] >= 0)
                soft.Edges[e] = fixedOps[e] == noneOp ? Array.Empty<PathWeight>() : new[] { new PathWeight(fixedOps[e], null) };
        return soft;
    }

    public int ComputedOps => Edges.Sum(e => e.Length);
}
