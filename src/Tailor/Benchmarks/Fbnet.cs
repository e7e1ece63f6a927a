using Tailor.Search;
using Tailor.Util;

namespace Tailor.Benchmarks;

/// <summary>An architecture of the FBNet space (HW-NAS-Bench): one of 9 ops for each of 22 searchable layers.</summary>
public sealed class FbnetArch : IEquatable<FbnetArch>
{
    public const int Layers = 22, NumOps = 9;
    /// <summary>The op of each index: the IR's FBNet space defines them (HW-NAS-Bench uses the same order).</summary>
    public static readonly string[] OpNames = Tailor.Arch.Spaces.FBNetOps;
    readonly byte[] _ops;
    readonly string _key;

    public FbnetArch(ReadOnlySpan<int> ops)
    {
        if (ops.Length != Layers) throw new TailorException($"FBNet arch: {ops.Length} op indices, need {Layers}");
        _ops = new byte[Layers];
        for (int i = 0; i < Layers; i++)
        {
            if ((uint)ops[i] >= NumOps) throw new TailorException($"FBNet arch: op index {ops[i]} on layer {i} (must be 0..8)");
            _ops[i] = (byte)ops[i];
        }
        _key = string.Join(' ', _ops);
    }

    public int Op(int layer) => _ops[layer];
    public ReadOnlySpan<byte> OpSpan => _ops;
    public int[] Ops() => _ops.Select(b => (int)b).ToArray();
    public FbnetArch WithOp(int layer, int op) { var o = Ops(); o[layer] = op; return new FbnetArch(o); }

    /// <summary>The table's op_indices form: 22 space-separated indices.</summary>
    public override string ToString() => _key;

    public static FbnetArch Parse(string s)
    {
        var parts = (s ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != Layers) throw new TailorException($"FBNet arch '{s}': {parts.Length} op indices, need {Layers} space-separated indices 0..8");
        var ops = new int[Layers];
        for (int i = 0; i < Layers; i++)
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ops[i]) || ops[i] >= NumOps)
                throw new TailorException($"FBNet arch '{s}': '{parts[i]}' on layer {i} is not an op index 0..8");
        return new FbnetArch(ops);
    }

    public bool Equals(FbnetArch? other) => other != null && _key == other._key;
    public override bool Equals(object? obj) => obj is FbnetArch a && Equals(a);
    public override int GetHashCode() => _key.GetHashCode(StringComparison.Ordinal);
}

/// <summary>The full FBNet space: 9^22 architectures; mutation changes one layer's op; one-hot encoding (22 x 9).</summary>
public sealed class FbnetSpace : ISearchSpace<FbnetArch>
{
    public string Name => "fbnet";
    public double Size => Math.Pow(FbnetArch.NumOps, FbnetArch.Layers);
    public IReadOnlyList<FbnetArch>? All => null;
    public int FeatureCount => FbnetArch.Layers * FbnetArch.NumOps;

    public FbnetArch Sample(Rng rng)
    {
        var o = new int[FbnetArch.Layers];
        for (int i = 0; i < o.Length; i++) o[i] = rng.Next(FbnetArch.NumOps);
        return new FbnetArch(o);
    }

    public FbnetArch Mutate(FbnetArch a, Rng rng)
    {
        int l = rng.Next(FbnetArch.Layers);
        int op = rng.Next(FbnetArch.NumOps - 1);
        if (op >= a.Op(l)) op++;
        return a.WithOp(l, op);
    }

    public FbnetArch Crossover(FbnetArch a, FbnetArch b, Rng rng)
    {
        var o = new int[FbnetArch.Layers];
        for (int i = 0; i < o.Length; i++) o[i] = rng.Next(2) == 0 ? a.Op(i) : b.Op(i);
        return new FbnetArch(o);
    }

    public IReadOnlyList<FbnetArch> Neighbors(FbnetArch a)
    {
        var res = new List<FbnetArch>();
        for (int l = 0; l < FbnetArch.Layers; l++)
            for (int op = 0; op < FbnetArch.NumOps; op++)
                if (op != a.Op(l)) res.Add(a.WithOp(l, op));
        return res;
    }

    public void Encode(FbnetArch a, Span<float> f)
    {
        f[..FeatureCount].Clear();
        for (int l = 0; l < FbnetArch.Layers; l++) f[l * FbnetArch.NumOps + a.Op(l)] = 1f;
    }

    public string Key(FbnetArch a) => a.ToString();
    public FbnetArch Parse(string key) => FbnetArch.Parse(key);

    /// <summary>Hamming distance over the 22 layers.</summary>
    public static int Distance(FbnetArch a, FbnetArch b)
    {
        ReadOnlySpan<byte> x = a.OpSpan, y = b.OpSpan;
        int d = 0;
        for (int l = 0; l < x.Length; l++) d += x[l] != y[l] ? 1 : 0;
        return d;
    }
}
