using Tailor.Search;
using Tailor.Util;

namespace Tailor.Benchmarks;

/// <summary>
/// A space restricted to the architectures a table holds (HW-NAS-Bench FBNet has 5,000 of 9^22).
/// Sampling is uniform over the members; the neighbours of a member are its <c>neighbors</c>
/// nearest other members (by <c>distance</c>, ties by table order; cached, thread-safe); a mutation
/// is a random neighbour; a crossover of the inner space that leaves the table is projected to the
/// nearest member (ties at random).
/// </summary>
public sealed class TableSubsetSpace<TArch> : ISearchSpace<TArch> where TArch : notnull
{
    readonly ISearchSpace<TArch> _inner;
    readonly TArch[] _members;
    readonly Dictionary<string, int> _index;
    readonly Func<TArch, TArch, int> _distance;
    readonly int _neighbors;

    public TableSubsetSpace(ISearchSpace<TArch> inner, IEnumerable<TArch> members, Func<TArch, TArch, int> distance, int neighbors = 10)
    {
        _inner = inner; _distance = distance; _neighbors = Math.Max(1, neighbors);
        _members = members.ToArray();
        _index = new Dictionary<string, int>(_members.Length);
        for (int i = 0; i < _members.Length; i++) _index.TryAdd(inner.Key(_members[i]), i);
        if (_members.Length == 0) throw new TailorException($"{inner.Name}: the table holds no architectures");
    }

    public string Name => _inner.Name + "@table";
    public double Size => _members.Length;
    public IReadOnlyList<TArch> All => _members;
    public int FeatureCount => _inner.FeatureCount;

    public TArch Sample(Rng rng) => _members[rng.Next(_members.Length)];

    TArch Project(TArch x, string? excludeKey, Rng rng)
    {
        string k = _inner.Key(x);
        if (_index.ContainsKey(k) && k != excludeKey) return x;
        int best = int.MaxValue, count = 0, pick = -1;
        for (int i = 0; i < _members.Length; i++)
        {
            if (excludeKey != null && _inner.Key(_members[i]) == excludeKey) continue;
            int d = _distance(x, _members[i]);
            if (d < best) { best = d; count = 1; pick = i; }
            else if (d == best && rng.Next(++count) == 0) pick = i; // reservoir: uniform among ties
        }
        return pick < 0 ? x : _members[pick];
    }

    public TArch Mutate(TArch a, Rng rng)
    {
        var n = NeighborArray(a);
        return n.Length == 0 ? a : n[rng.Next(n.Length)];
    }
    public TArch Crossover(TArch a, TArch b, Rng rng) => Project(_inner.Crossover(a, b, rng), null, rng);

    readonly System.Collections.Concurrent.ConcurrentDictionary<string, TArch[]> _near = new();

    TArch[] NeighborArray(TArch a) => _near.GetOrAdd(_inner.Key(a), k =>
    {
        // one pass keeping the k nearest (distance, then table order)
        int kk = Math.Min(_neighbors, _members.Length - 1);
        if (kk <= 0) return [];
        var bestD = new int[kk]; var bestI = new int[kk];
        int filled = 0;
        for (int i = 0; i < _members.Length; i++)
        {
            int d = _distance(a, _members[i]);
            if (d == 0 && _inner.Key(_members[i]) == k) continue;
            if (filled == kk && d >= bestD[kk - 1]) continue;
            int j = filled < kk ? filled++ : kk - 1;
            while (j > 0 && bestD[j - 1] > d) { bestD[j] = bestD[j - 1]; bestI[j] = bestI[j - 1]; j--; }
            bestD[j] = d; bestI[j] = i;
        }
        return bestI.Take(filled).Select(i => _members[i]).ToArray();
    });

    public IReadOnlyList<TArch> Neighbors(TArch a) => NeighborArray(a);

    public void Encode(TArch a, Span<float> f) => _inner.Encode(a, f);
    public string Key(TArch a) => _inner.Key(a);

    public TArch Parse(string key)
    {
        var a = _inner.Parse(key);
        if (!_index.ContainsKey(_inner.Key(a))) throw new TailorException($"{Name}: '{key}' is not in the table");
        return a;
    }
}
