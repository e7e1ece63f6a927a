using Tailor.Arch;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Hardware.Predictors;

/// <summary>
/// A categorical encoding of an architecture: one choice per group (a searchable layer, or an edge of a
/// cell), concatenated one-hot vectors as features. A soft version (a probability vector per group,
/// e.g. a softmax over architecture weights) is what differentiable search feeds the MLP predictor.
/// </summary>
public interface IArchEncoding
{
    /// <summary>"fbnet", "nb201" or "space:NAME".</summary>
    string Name { get; }
    /// <summary>Number of options of each group.</summary>
    IReadOnlyList<int> GroupSizes { get; }
    /// <summary>The CSV column an architecture is read from by default.</summary>
    string DefaultColumn { get; }
    /// <summary>Parses one cell into one choice index per group; throws <see cref="TailorException"/> describing the problem.</summary>
    int[] Parse(string cell);

    /// <summary>Length of the feature vector (the one-hot, plus derived features where the encoding has them).</summary>
    int FeatureDim => this.Dim();

    /// <summary>Features of an architecture (one choice per group).</summary>
    float[] Features(IReadOnlyList<int> choices) => this.OneHot(choices);

    /// <summary>
    /// Differentiable features of soft op weights [.., Dim] (a probability vector per group, concatenated);
    /// equals <see cref="Features"/> on one-hot weights.
    /// </summary>
    Tensor SoftFeatures(Tensor opWeights) => opWeights;
}

public static class ArchEncodings
{
    /// <summary>"fbnet", "nb201" or "space:NAME" (any named layered space).</summary>
    public static IArchEncoding Parse(string spec)
    {
        if (spec == "fbnet") return new SpaceEncoding(Spaces.Get("fbnet"), "fbnet", "op_indices");
        if (spec == "nb201") return new Nb201Encoding();
        if (spec.StartsWith("space:", StringComparison.Ordinal)) return new SpaceEncoding(Spaces.Get(spec[6..]), spec, "arch");
        throw new TailorException($"encoding '{spec}': unknown; expected fbnet, nb201 or space:NAME ({string.Join(", ", Spaces.Names)})");
    }

    public static int Dim(this IArchEncoding e) => e.GroupSizes.Sum();

    /// <summary>Offset of each group in the feature vector.</summary>
    public static int[] Offsets(this IArchEncoding e)
    {
        var o = new int[e.GroupSizes.Count];
        for (int i = 1; i < o.Length; i++) o[i] = o[i - 1] + e.GroupSizes[i - 1];
        return o;
    }

    public static float[] OneHot(this IArchEncoding e, IReadOnlyList<int> choices)
    {
        if (choices.Count != e.GroupSizes.Count)
            throw new TailorException($"encoding {e.Name}: expected {e.GroupSizes.Count} choices, got {choices.Count}");
        var x = new float[e.Dim()];
        int off = 0;
        for (int g = 0; g < choices.Count; g++)
        {
            if (choices[g] < 0 || choices[g] >= e.GroupSizes[g])
                throw new TailorException($"encoding {e.Name}: group {g}: choice {choices[g]} out of range 0..{e.GroupSizes[g] - 1}");
            x[off + choices[g]] = 1;
            off += e.GroupSizes[g];
        }
        return x;
    }
}

/// <summary>One-hot of the candidate of every searchable layer of a <see cref="LayeredSpace"/>; cells are candidate names or indices.</summary>
public sealed class SpaceEncoding(LayeredSpace space, string name, string defaultColumn) : IArchEncoding
{
    public LayeredSpace Space { get; } = space;
    public string Name { get; } = name;
    public string DefaultColumn { get; } = defaultColumn;
    public IReadOnlyList<int> GroupSizes { get; } = Enumerable.Range(0, space.LayerCount).Select(l => space.Choices(l).Count).ToArray();
    public int[] Parse(string cell) => Space.Parse(cell);
}

/// <summary>
/// NAS-Bench-201 cell: 6 edges x 5 ops from the official string "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
/// (node j sums ops applied to earlier nodes i). Edge order: 1&lt;-0, 2&lt;-0, 2&lt;-1, 3&lt;-0, 3&lt;-1, 3&lt;-2.
/// Features: the 30-dim one-hot, then for each edge and each op other than none whether the edge is
/// live (on a path input -&gt; output of non-none edges: runtimes that prune dead code only run those),
/// then whether the cell connects input to output at all (55 features).
/// </summary>
public sealed class Nb201Encoding : IArchEncoding
{
    public static readonly string[] Ops = Tailor.Benchmarks.Nb201Arch.OpNames;
    /// <summary>(from, to) node of each edge, in group order.</summary>
    public static readonly (int From, int To)[] Edges = { (0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3) };
    public string Name => "nb201";
    public string DefaultColumn => "arch_str";
    public IReadOnlyList<int> GroupSizes { get; } = Enumerable.Repeat(Ops.Length, 6).ToArray();
    public int FeatureDim => 30 + 24 + 1;

    public float[] Features(IReadOnlyList<int> choices)
    {
        var x = new float[FeatureDim];
        this.OneHot(choices).CopyTo(x, 0);
        var nn = choices.Select(c => c != 0 ? 1.0 : 0.0).ToArray();
        var (r, c) = Reach(nn, 1.0, (a, b) => a * b, (a, b) => 1 - (1 - a) * (1 - b));
        for (int e = 0; e < 6; e++)
        {
            var (i, j) = Edges[e];
            if (choices[e] != 0 && r[i] * c[j] > 0) x[30 + e * 4 + choices[e] - 1] = 1;
        }
        x[54] = (float)r[3];
        return x;
    }

    /// <summary>Reachability from the input (r) and to the output (c) with "and" / "or" for one-hot or soft (independent) edges.</summary>
    static (T[] R, T[] C) Reach<T>(T[] nn, T one, Func<T, T, T> and, Func<T, T, T> or) where T : notnull
    {
        // nn[e]: edge e is not none; r[i]: node i is reached from the input; c[j]: node j reaches the output.
        var r = new T[4]; var c = new T[4];
        r[0] = one;
        r[1] = nn[0];
        r[2] = or(nn[1], and(r[1], nn[2]));
        r[3] = or(or(nn[3], and(r[1], nn[4])), and(r[2], nn[5]));
        c[3] = one;
        c[2] = nn[5];
        c[1] = or(nn[4], and(nn[2], c[2]));
        c[0] = r[3];
        return (r, c);
    }

    public Tensor SoftFeatures(Tensor w)
    {
        var g = w.reshape(w.shape[..^1].Append(6L).Append(5L).ToArray()); // [.., 6, 5]
        var nn = Enumerable.Range(0, 6).Select(e => 1 - g.select(-2, e).select(-1, 0)).ToArray();
        var (r, c) = Reach(nn, ones_like(nn[0]), (a, b) => a * b, (a, b) => 1 - (1 - a) * (1 - b));
        var live = new List<Tensor>();
        for (int e = 0; e < 6; e++)
        {
            var (i, j) = Edges[e];
            live.Add(g.select(-2, e).narrow(-1, 1, 4) * (r[i] * c[j]).unsqueeze(-1));
        }
        return cat(new[] { w }.Concat(live).Append(r[3].unsqueeze(-1)).ToArray(), -1);
    }

    /// <summary>Parses the benchmark's cell string with <see cref="Tailor.Benchmarks.Nb201Arch.Parse"/> (same edge order).</summary>
    public int[] Parse(string cell) => Tailor.Benchmarks.Nb201Arch.Parse(cell.Trim()).Ops();
}
