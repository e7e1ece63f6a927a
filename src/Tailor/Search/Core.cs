using Tailor.Util;
namespace Tailor.Search;

/// <summary>
/// A search space over architectures of type <typeparamref name="TArch"/>. Everything a strategy
/// needs, nothing about how an architecture is evaluated. All randomness comes from the caller's <see cref="Rng"/>.
/// </summary>
public interface ISearchSpace<TArch> where TArch : notnull
{
    string Name { get; }
    /// <summary>Number of architectures in the space (may be astronomically large; used to reject impossible budgets).</summary>
    double Size { get; }
    /// <summary>Every architecture when the space is small enough to enumerate (WeakNAS ranks it whole), else null.</summary>
    IReadOnlyList<TArch>? All { get; }
    TArch Sample(Rng rng);
    /// <summary>A random neighbour (one elementary change).</summary>
    TArch Mutate(TArch arch, Rng rng);
    TArch Crossover(TArch a, TArch b, Rng rng);
    /// <summary>All neighbours reachable by one elementary change, in a fixed order.</summary>
    IReadOnlyList<TArch> Neighbors(TArch arch);
    int FeatureCount { get; }
    /// <summary>Writes <see cref="FeatureCount"/> floats describing the architecture (e.g. a one-hot code) for predictors.</summary>
    void Encode(TArch arch, Span<float> features);
    /// <summary>A canonical string: equal architectures have equal keys (deduplication, state files, CSVs).</summary>
    string Key(TArch arch);
    /// <summary>Inverse of <see cref="Key"/>; throws TailorException on a malformed key.</summary>
    TArch Parse(string key);
}

/// <summary>What one evaluation measured. NaN means "not measured". Test accuracy is for reporting only: strategies never read it.</summary>
public sealed class Metrics
{
    public double Valid { get; init; } = double.NaN;
    public double Test { get; init; } = double.NaN;
    public double Latency { get; init; } = double.NaN;
    /// <summary>Simulated (or real) cost of the evaluation, e.g. training seconds; 0 for free table look-ups.</summary>
    public double Cost { get; init; }
    /// <summary>Further named values (e.g. a second device's latency "latency2").</summary>
    public IReadOnlyDictionary<string, double>? Extra { get; init; }

    public const string ValidName = "valid", TestName = "test", LatencyName = "latency", CostName = "cost";

    public double Get(string name) => name switch
    {
        ValidName => Valid,
        TestName => Test,
        LatencyName => Latency,
        CostName => Cost,
        _ => Extra != null && Extra.TryGetValue(name, out var v) ? v : double.NaN,
    };
}

public interface IEvaluator<TArch> where TArch : notnull
{
    /// <summary>Names of the metrics this evaluator measures (a subset of valid, test, latency, cost, extra names).</summary>
    IReadOnlyCollection<string> MetricNames { get; }
    Metrics Evaluate(TArch arch);
}

/// <summary>One objective: a metric and its direction.</summary>
public sealed record Objective(string Metric, bool Maximise)
{
    public static Objective Max(string metric) => new(metric, true);
    public static Objective Min(string metric) => new(metric, false);
    /// <summary>The value as a quantity to minimise (NaN becomes +infinity: unmeasured is worst).</summary>
    public double Minimised(Metrics m)
    {
        double v = m.Get(Metric);
        if (double.IsNaN(v)) return double.PositiveInfinity;
        return Maximise ? -v : v;
    }
    public override string ToString() => $"{(Maximise ? "max" : "min")} {Metric}";
}

/// <summary>A constraint metric &lt;= Max.</summary>
public sealed record Constraint(string Metric, double Max)
{
    public double Violation(Metrics m)
    {
        double v = m.Get(Metric);
        if (double.IsNaN(v)) return double.PositiveInfinity;
        return v > Max ? v - Max : 0;
    }
    public override string ToString() => $"{Metric} <= {Max}";
}

/// <summary>Declared objectives (the first is the one single-objective strategies optimise) and constraints.</summary>
public sealed class SearchProblem
{
    public IReadOnlyList<Objective> Objectives { get; }
    public IReadOnlyList<Constraint> Constraints { get; }

    public SearchProblem(IReadOnlyList<Objective> objectives, IReadOnlyList<Constraint>? constraints = null)
    {
        if (objectives.Count == 0) throw new TailorException("search problem: at least one objective is needed");
        Objectives = objectives;
        Constraints = constraints ?? [];
    }

    public Objective Primary => Objectives[0];

    public double Violation(Metrics m)
    {
        double s = 0;
        foreach (var c in Constraints) s += c.Violation(m);
        return s;
    }

    public bool Feasible(Metrics m) => Violation(m) == 0;

    /// <summary>Single-objective order: negative when a is better (feasible first, then smaller violation, then the primary objective).</summary>
    public int Compare(Metrics a, Metrics b)
    {
        double va = Violation(a), vb = Violation(b);
        if (va != vb) return va < vb ? -1 : 1;
        return Primary.Minimised(a).CompareTo(Primary.Minimised(b));
    }

    /// <summary>A scalar to maximise for predictors: the primary objective, infeasible points pushed below every feasible one.</summary>
    public double Score(Metrics m)
    {
        double v = -Primary.Minimised(m);
        double viol = Violation(m);
        return viol == 0 ? v : v - 1e3 - viol;
    }

    public override string ToString() =>
        string.Join(", ", Objectives) + (Constraints.Count > 0 ? "; s.t. " + string.Join(", ", Constraints) : "");
}

/// <summary>How much a run may spend: unique architecture queries, and optionally a total evaluation cost (simulated training time).</summary>
public sealed record Budget(int MaxQueries, double? MaxCost = null)
{
    public void Validate(double spaceSize)
    {
        if (MaxQueries <= 0) throw new TailorException($"budget: must be at least 1 query, got {MaxQueries}");
        if (MaxQueries > spaceSize) throw new TailorException($"budget: {MaxQueries} queries but the space holds only {spaceSize:0} architectures");
        if (MaxCost is <= 0) throw new TailorException($"budget: max cost must be positive, got {MaxCost}");
    }
}

/// <summary>One evaluated architecture; Index is its position in the run's history (0-based, in query order).</summary>
public sealed record Evaluated<TArch>(int Index, TArch Arch, string Key, Metrics Metrics) where TArch : notnull;

/// <summary>What a strategy sees of the run: the space, the problem and everything evaluated so far.</summary>
public sealed class SearchContext<TArch> where TArch : notnull
{
    readonly List<Evaluated<TArch>> _history = [];
    readonly Dictionary<string, int> _byKey = [];

    public SearchContext(ISearchSpace<TArch> space, SearchProblem problem, Budget budget)
    {
        Space = space; Problem = problem; Budget = budget;
    }

    public ISearchSpace<TArch> Space { get; }
    public SearchProblem Problem { get; }
    public Budget Budget { get; }
    public IReadOnlyList<Evaluated<TArch>> History => _history;
    public int Queries => _history.Count;
    public double Cost { get; private set; }
    public int RemainingQueries => Budget.MaxQueries - _history.Count;
    public bool Exhausted => _history.Count >= Budget.MaxQueries || (Budget.MaxCost is { } mc && Cost >= mc);

    public bool IsEvaluated(string key) => _byKey.ContainsKey(key);
    public bool IsEvaluated(TArch arch) => _byKey.ContainsKey(Space.Key(arch));
    public Evaluated<TArch>? Find(string key) => _byKey.TryGetValue(key, out int i) ? _history[i] : null;

    internal Evaluated<TArch> Add(TArch arch, string key, Metrics m)
    {
        var e = new Evaluated<TArch>(_history.Count, arch, key, m);
        _history.Add(e);
        _byKey[key] = e.Index;
        Cost += m.Cost;
        return e;
    }

    /// <summary>A random architecture not evaluated yet and not in <paramref name="exclude"/>: rejection sampling, then (for enumerable spaces) a scan.</summary>
    public TArch SampleUnseen(Rng rng, ISet<string>? exclude = null)
    {
        for (int t = 0; t < 200; t++)
        {
            var a = Space.Sample(rng);
            string k = Space.Key(a);
            if (!IsEvaluated(k) && (exclude == null || !exclude.Contains(k))) return a;
        }
        if (Space.All is { } all)
        {
            var free = all.Where(a => { string k = Space.Key(a); return !IsEvaluated(k) && (exclude == null || !exclude.Contains(k)); }).ToList();
            if (free.Count > 0) return free[rng.Next(free.Count)];
            throw new TailorException($"{Space.Name}: every architecture has been evaluated");
        }
        return Space.Sample(rng);
    }

    /// <summary>Mutates <paramref name="parent"/> until the child is new (up to <paramref name="tries"/> times, then compound mutations, then a random new architecture).</summary>
    public TArch MutateUnseen(TArch parent, Rng rng, ISet<string>? exclude = null, int tries = 30)
    {
        var cur = parent;
        for (int depth = 1; depth <= 3; depth++)
            for (int t = 0; t < tries; t++)
            {
                var c = parent;
                for (int d = 0; d < depth; d++) c = Space.Mutate(c, rng);
                string k = Space.Key(c);
                if (!IsEvaluated(k) && (exclude == null || !exclude.Contains(k))) return c;
            }
        return SampleUnseen(rng, exclude);
    }

    /// <summary>Best evaluated so far by the single-objective order (feasible first), or null.</summary>
    public Evaluated<TArch>? Best()
    {
        Evaluated<TArch>? best = null;
        foreach (var e in _history)
            if (best == null || Problem.Compare(e.Metrics, best.Metrics) < 0) best = e;
        return best;
    }
}

/// <summary>
/// A search strategy in ask/tell form, so the same strategy drives a table look-up or days of real
/// training. It owns its seeded <see cref="Rng"/>; its whole state (rng included) saves to JSON and
/// loads back so a resumed run continues exactly as an uninterrupted one.
/// </summary>
public interface ISearchStrategy<TArch> where TArch : notnull
{
    string Name { get; }
    /// <summary>Architectures to evaluate next (at most <paramref name="max"/>, at least one unless the strategy is done).</summary>
    IReadOnlyList<TArch> Ask(SearchContext<TArch> ctx, int max);
    /// <summary>The evaluations of the last Ask, in order (architectures already evaluated come back with their cached metrics).</summary>
    void Tell(SearchContext<TArch> ctx, IReadOnlyList<Evaluated<TArch>> results);
    /// <summary>Options (for the output record).</summary>
    IReadOnlyDictionary<string, object> Options { get; }
    System.Text.Json.Nodes.JsonObject SaveState();
    /// <summary>Restores the state saved by <see cref="SaveState"/>; the context's history is already loaded.</summary>
    void LoadState(SearchContext<TArch> ctx, System.Text.Json.Nodes.JsonObject state);
}
