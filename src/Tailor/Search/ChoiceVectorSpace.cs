using System.Globalization;
using Tailor.Util;

namespace Tailor.Search;

/// <summary>
/// A search space whose architectures are choice vectors: position i takes an index in [0, Counts[i]).
/// DONNA's block space (one option per block) and the spnas layer spaces (one candidate per searchable
/// layer) are both this; subclasses name the space, build networks from a vector and may restrict it
/// with <see cref="Accept"/> (e.g. a latency band). Sampling is uniform over the accepted vectors
/// (rejection), mutation is one position changed, crossover is uniform; every operator stays inside
/// the accepted set. Keys are the indices joined by '-' ("2-0-1-...").
/// </summary>
public abstract class ChoiceVectorSpace : ISearchSpace<int[]>
{
    /// <summary>Uniform draws tried before <see cref="Sample"/> gives up on <see cref="Accept"/>.</summary>
    public const int MaxSampleTries = 200_000;

    readonly int[] _counts;
    readonly int[] _offsets;

    protected ChoiceVectorSpace(IReadOnlyList<int> counts)
    {
        _counts = counts.ToArray();
        _offsets = new int[_counts.Length + 1];
        for (int i = 0; i < _counts.Length; i++) _offsets[i + 1] = _offsets[i] + _counts[i];
    }

    public abstract string Name { get; }
    /// <summary>What a position is called in error messages ("block", "layer").</summary>
    protected abstract string PositionName { get; }
    /// <summary>Whether the space is restricted; false skips every <see cref="Accept"/> call (and the RNG draws a retry would take).</summary>
    protected virtual bool Restricted => false;
    /// <summary>Whether a vector belongs to the (restricted) space.</summary>
    public virtual bool Accept(IReadOnlyList<int> a) => true;
    /// <summary>Thrown when no accepted vector turns up in <see cref="MaxSampleTries"/> draws.</summary>
    protected virtual TailorException NothingAccepted() => new($"{Name}: none of {MaxSampleTries:N0} random architectures is in the space");

    public int Positions => _counts.Length;
    public int Count(int position) => _counts[position];
    public double Size => _counts.Aggregate(1.0, (s, c) => s * c);
    public IReadOnlyList<int[]>? All => null;
    public int FeatureCount => _offsets[^1];

    int[] Uniform(Rng rng)
    {
        var c = new int[_counts.Length];
        for (int i = 0; i < c.Length; i++) c[i] = rng.Next(_counts[i]);
        return c;
    }

    public int[] Sample(Rng rng)
    {
        if (!Restricted) return Uniform(rng);
        for (int t = 0; t < MaxSampleTries; t++)
        {
            var c = Uniform(rng);
            if (Accept(c)) return c;
        }
        throw NothingAccepted();
    }

    /// <summary>All accepted vectors one position change away, in position then index order.</summary>
    public IReadOnlyList<int[]> Neighbors(int[] a)
    {
        var list = new List<int[]>();
        for (int i = 0; i < a.Length; i++)
            for (int m = 0; m < _counts[i]; m++)
                if (m != a[i])
                {
                    var n = (int[])a.Clone();
                    n[i] = m;
                    if (!Restricted || Accept(n)) list.Add(n);
                }
        return list;
    }

    /// <summary>
    /// Unrestricted: a random position gets a random other index. Restricted: a random accepted
    /// neighbour, or a fresh sample when no single change stays accepted.
    /// </summary>
    public int[] Mutate(int[] a, Rng rng)
    {
        if (Restricted)
        {
            var n = Neighbors(a);
            return n.Count > 0 ? n[rng.Next(n.Count)] : Sample(rng);
        }
        var c = (int[])a.Clone();
        int p = rng.Next(c.Length);
        if (_counts[p] < 2) return c;
        int v = rng.Next(_counts[p] - 1);
        c[p] = v >= c[p] ? v + 1 : v;
        return c;
    }

    /// <summary>Uniform crossover; restricted, redrawn until the child is accepted (100 tries, then the first parent).</summary>
    public int[] Crossover(int[] a, int[] b, Rng rng)
    {
        for (int t = 0; t < (Restricted ? 100 : 1); t++)
        {
            var c = a.Select((x, i) => rng.Next(2) == 0 ? x : b[i]).ToArray();
            if (!Restricted || Accept(c)) return c;
        }
        return (int[])a.Clone();
    }

    /// <summary>One-hot per position (positions may have different numbers of choices).</summary>
    public void Encode(int[] a, Span<float> features)
    {
        features.Clear();
        for (int i = 0; i < a.Length; i++) features[_offsets[i] + a[i]] = 1;
    }

    public string Key(int[] a) => string.Join('-', a);

    /// <summary>Inverse of <see cref="Key"/>. Does not check <see cref="Accept"/> (a key names an architecture).</summary>
    public int[] Parse(string key)
    {
        var p = key.Split('-');
        if (p.Length != _counts.Length) throw new TailorException($"{Name}: key '{key}' has {p.Length} {PositionName} choices, expected {_counts.Length}");
        var c = new int[p.Length];
        for (int i = 0; i < p.Length; i++)
            if (!int.TryParse(p[i], NumberStyles.None, CultureInfo.InvariantCulture, out c[i]) || c[i] >= _counts[i])
                throw new TailorException($"{Name}: key '{key}': {PositionName} {i}: '{p[i]}' is not a choice index 0..{_counts[i] - 1}");
        return c;
    }
}
