using System.Text.Json.Nodes;
using Tailor.Util;

namespace Tailor.Search.Strategies;

public sealed record Nsga2Options
{
    /// <summary>mu: survivors per generation (and the random initial population).</summary>
    public int Population { get; init; } = 20; // tuned by hypervolume on seeds 1000-1019 (bench/README.md)
    /// <summary>lambda: children per generation; 0 means equal to the population.</summary>
    public int Offspring { get; init; }
    public double CrossoverProb { get; init; } = 0.9;
    public double MutationProb { get; init; } = 1.0;

    public int Lambda => Offspring > 0 ? Offspring : Population;

    public void Validate()
    {
        if (Population < 2) throw new TailorException($"nsga2: --population must be >= 2, got {Population}");
        if (Offspring < 0) throw new TailorException($"nsga2: --offspring must be >= 0, got {Offspring}");
        if (CrossoverProb is < 0 or > 1) throw new TailorException($"nsga2: --crossover-prob must be in [0,1], got {CrossoverProb}");
        if (MutationProb is < 0 or > 1) throw new TailorException($"nsga2: --mutation-prob must be in [0,1], got {MutationProb}");
    }
}

/// <summary>
/// NSGA-II (Deb et al. 2002) over all declared objectives: binary tournament on (rank, crowding),
/// crossover + mutation, duplicate elimination (children are new to the whole run), constrained
/// domination, elitist (mu + lambda) survival by non-dominated fronts and crowding distance.
/// </summary>
public sealed class Nsga2<TArch> : ISearchStrategy<TArch> where TArch : notnull
{
    Rng _rng;
    readonly Nsga2Options _o;
    List<int> _pop = []; // history indices of the survivors

    public Nsga2(ulong seed, Nsga2Options? options = null)
    {
        _o = options ?? new Nsga2Options();
        _o.Validate();
        _rng = new Rng(seed);
    }

    public string Name => "nsga2";
    public IReadOnlyList<int> Population => _pop;
    public IReadOnlyDictionary<string, object> Options => new Dictionary<string, object>
    {
        ["population"] = _o.Population, ["offspring"] = _o.Lambda, ["crossover_prob"] = _o.CrossoverProb, ["mutation_prob"] = _o.MutationProb,
    };

    static double[] Obj(SearchContext<TArch> ctx, Metrics m)
    {
        var objs = ctx.Problem.Objectives;
        var v = new double[objs.Count];
        for (int i = 0; i < v.Length; i++) v[i] = objs[i].Minimised(m);
        return v;
    }

    /// <summary>Rank and crowding distance of each member of <paramref name="members"/> (history indices).</summary>
    public static (int[] Rank, double[] Crowd, List<List<int>> Fronts) Assess(SearchContext<TArch> ctx, IReadOnlyList<int> members)
    {
        var objs = members.Select(i => Obj(ctx, ctx.History[i].Metrics)).ToList();
        var viol = members.Select(i => ctx.Problem.Violation(ctx.History[i].Metrics)).ToList();
        var (fronts, rank) = Pareto.NonDominatedSort(objs, viol);
        var crowd = new double[members.Count];
        foreach (var f in fronts)
        {
            var d = Pareto.CrowdingDistance(objs, f);
            for (int i = 0; i < f.Count; i++) crowd[f[i]] = d[i];
        }
        return (rank, crowd, fronts);
    }

    public IReadOnlyList<TArch> Ask(SearchContext<TArch> ctx, int max)
    {
        var keys = new HashSet<string>();
        if (_pop.Count == 0)
        {
            int n = Math.Min(_o.Population, max);
            var init = new List<TArch>(n);
            for (int i = 0; i < n; i++) { var a = ctx.SampleUnseen(_rng, keys); keys.Add(ctx.Space.Key(a)); init.Add(a); }
            return init;
        }
        var (rank, crowd, _) = Assess(ctx, _pop);
        int Tournament()
        {
            int a = _rng.Next(_pop.Count), b = _rng.Next(_pop.Count);
            if (rank[a] != rank[b]) return rank[a] < rank[b] ? a : b;
            if (crowd[a] != crowd[b]) return crowd[a] > crowd[b] ? a : b;
            return Math.Min(a, b);
        }
        int lambda = Math.Min(_o.Lambda, max);
        var kids = new List<TArch>(lambda);
        for (int i = 0; i < lambda; i++)
        {
            var p1 = ctx.History[_pop[Tournament()]].Arch;
            var p2 = ctx.History[_pop[Tournament()]].Arch;
            var child = _rng.NextDouble() < _o.CrossoverProb ? ctx.Space.Crossover(p1, p2, _rng) : p1;
            if (_rng.NextDouble() < _o.MutationProb) child = ctx.Space.Mutate(child, _rng);
            string k = ctx.Space.Key(child);
            if (ctx.IsEvaluated(k) || keys.Contains(k)) { child = ctx.MutateUnseen(child, _rng, keys); k = ctx.Space.Key(child); }
            keys.Add(k);
            kids.Add(child);
        }
        return kids;
    }

    public void Tell(SearchContext<TArch> ctx, IReadOnlyList<Evaluated<TArch>> results)
    {
        var union = new List<int>(_pop);
        var inUnion = new HashSet<int>(_pop);
        foreach (var r in results) if (inUnion.Add(r.Index)) union.Add(r.Index);
        if (_pop.Count == 0) { _pop = union; if (_pop.Count <= _o.Population) return; }
        _pop = Survive(ctx, union, _o.Population);
    }

    /// <summary>Elitist survival: whole fronts while they fit, then the last front by decreasing crowding distance.</summary>
    public static List<int> Survive(SearchContext<TArch> ctx, List<int> union, int mu)
    {
        if (union.Count <= mu) return union;
        var (_, crowd, fronts) = Assess(ctx, union);
        var next = new List<int>(mu);
        foreach (var f in fronts)
        {
            if (next.Count + f.Count <= mu) { next.AddRange(f.Select(i => union[i])); continue; }
            var byCrowd = f.OrderByDescending(i => crowd[i]).ThenBy(i => i).Take(mu - next.Count);
            next.AddRange(byCrowd.Select(i => union[i]));
            break;
        }
        return next;
    }

    public JsonObject SaveState() => new() { ["rng"] = _rng.State, ["population"] = new JsonArray(_pop.Select(i => (JsonNode)i).ToArray()) };

    public void LoadState(SearchContext<TArch> ctx, JsonObject state)
    {
        _rng = Rng.FromState((string)state["rng"]!);
        _pop = state["population"]!.AsArray().Select(n => (int)n!).ToList();
    }
}
