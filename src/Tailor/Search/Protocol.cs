using System.Diagnostics;

namespace Tailor.Search;

/// <summary>How the protocol runs a strategy: seeds, budget, parallelism, checkpoints.</summary>
public sealed record ProtocolConfig
{
    public int Seeds { get; init; } = 20;
    public int FirstSeed { get; init; }
    public required Budget Budget { get; init; }
    /// <summary>Seeds run at once (each seed is deterministic whatever this is).</summary>
    public int Parallel { get; init; } = 1;
    /// <summary>Where each seed's full state is saved (state/seed_N.json); null: not saved.</summary>
    public string? StateDir { get; init; }
    /// <summary>Continue from the saved states in StateDir (finished seeds are not rerun).</summary>
    public bool Resume { get; init; }
    /// <summary>Save a seed's state every N queries (0: only at its end).</summary>
    public int CheckpointEvery { get; init; }
    /// <summary>Hypervolume reference point in minimised form; null: the table's nadir.</summary>
    public double[]? HvReference { get; init; }
}

/// <summary>What the whole benchmark table says: the yardsticks of the protocol (methods.md §3).</summary>
public sealed class TableReference
{
    /// <summary>Mean test accuracy of all feasible architectures: the "average random architecture".</summary>
    public double MeanTest { get; init; } = double.NaN;
    /// <summary>Best test accuracy of a feasible architecture (regret is measured against it).</summary>
    public double BestTest { get; init; } = double.NaN;
    /// <summary>The feasible architecture with the best primary objective (validation accuracy): queries-to-best counts until it is evaluated.</summary>
    public string? BestValidKey { get; init; }
    public double BestValidTest { get; init; } = double.NaN;
    public int Feasible { get; init; }
    public int Total { get; init; }
    /// <summary>2-objective problems: the table's Pareto front (minimised form), reference point and hypervolume.</summary>
    public List<double[]>? TrueFront { get; init; }
    public double[]? HvReference { get; init; }
    public double? TrueFrontHv { get; init; }

    public static TableReference From(IReadOnlyList<(string Key, Metrics M)> rows, SearchProblem problem, double[]? hvRef = null)
    {
        var feas = rows.Where(r => problem.Feasible(r.M)).ToList();
        if (feas.Count == 0) return new TableReference { Total = rows.Count };
        var tests = feas.Select(r => r.M.Test).Where(double.IsFinite).ToList();
        var best = feas[0];
        foreach (var r in feas) if (problem.Compare(r.M, best.M) < 0) best = r;
        List<double[]>? front = null; double? hv = null; double[]? reff = null;
        if (problem.Objectives.Count == 2)
        {
            var pts = feas.Select(r => problem.Objectives.Select(o => o.Minimised(r.M)).ToArray()).ToList();
            reff = hvRef ?? [pts.Max(p => p[0]), pts.Max(p => p[1])];
            front = Pareto.Front(pts).Select(i => pts[i]).OrderBy(p => p[0]).ToList();
            hv = Pareto.Hypervolume2D(front, reff[0], reff[1]);
        }
        return new TableReference
        {
            MeanTest = tests.Count > 0 ? tests.Average() : double.NaN,
            BestTest = tests.Count > 0 ? tests.Max() : double.NaN,
            BestValidKey = best.Key, BestValidTest = best.M.Test, Feasible = feas.Count, Total = rows.Count,
            TrueFront = front, HvReference = reff, TrueFrontHv = hv,
        };
    }
}

/// <summary>One seed's outcome.</summary>
public sealed class SeedResult
{
    public int Seed { get; init; }
    public int Queries { get; init; }
    public double Cost { get; init; }
    /// <summary>The architecture selected by the primary objective (validation), feasible first; its test accuracy is what is reported.</summary>
    public string? SelectedKey { get; init; }
    public Metrics? Selected { get; init; }
    public bool SelectedFeasible { get; init; }
    /// <summary>1-based query at which the table's best-validation architecture was evaluated; null if never.</summary>
    public int? QueriesToBest { get; init; }
    public double? Hypervolume { get; init; }
    /// <summary>After each query: test accuracy of the architecture selected so far (NaN while none is feasible).</summary>
    public double[] AnytimeTest { get; init; } = [];
    /// <summary>After each query: validation of the architecture selected so far.</summary>
    public double[] AnytimeValid { get; init; } = [];
    /// <summary>2-objective problems, after each query: hypervolume of everything evaluated.</summary>
    public double[]? AnytimeHv { get; init; }
    /// <summary>(key, metrics) in query order.</summary>
    public List<(string Key, Metrics M)> History { get; init; } = [];
    /// <summary>Non-dominated evaluated points (minimised form), 2-objective problems.</summary>
    public List<double[]>? Front { get; init; }
    public double ElapsedS { get; init; }
}

public sealed class ProtocolResult
{
    public required string Strategy { get; init; }
    public required IReadOnlyDictionary<string, object> Options { get; init; }
    public required SearchProblem Problem { get; init; }
    public required ProtocolConfig Config { get; init; }
    public required TableReference? Reference { get; init; }
    public required SeedResult[] Seeds { get; init; }
    public double ElapsedS { get; init; }

    static double Mean(IEnumerable<double> v) { var l = v.Where(double.IsFinite).ToList(); return l.Count == 0 ? double.NaN : l.Average(); }
    /// <summary>Sample standard deviation (n - 1); 0 for one value.</summary>
    static double Std(IEnumerable<double> v)
    {
        var l = v.Where(double.IsFinite).ToList();
        if (l.Count < 2) return l.Count == 1 ? 0 : double.NaN;
        double m = l.Average();
        return Math.Sqrt(l.Sum(x => (x - m) * (x - m)) / (l.Count - 1));
    }

    public double MeanTest => Mean(Seeds.Select(s => s.Selected?.Test ?? double.NaN));
    public double StdTest => Std(Seeds.Select(s => s.Selected?.Test ?? double.NaN));
    public double MeanValid => Mean(Seeds.Select(s => s.Selected?.Valid ?? double.NaN));
    public double StdValid => Std(Seeds.Select(s => s.Selected?.Valid ?? double.NaN));
    public double MeanLatency => Mean(Seeds.Select(s => s.Selected?.Latency ?? double.NaN));
    double RegretOf(SeedResult s) => (Reference?.BestTest ?? double.NaN) - (s.Selected?.Test ?? double.NaN);
    public double MeanRegret => Mean(Seeds.Select(RegretOf));
    public double StdRegret => Std(Seeds.Select(RegretOf));
    /// <summary>Yang et al.: 100 * (mean test - mean test of the whole table) / mean test of the whole table.</summary>
    public double RelativeImprovement => Reference == null ? double.NaN : 100 * (MeanTest - Reference.MeanTest) / Reference.MeanTest;
    public int FoundBest => Seeds.Count(s => s.QueriesToBest != null);

    /// <summary>
    /// Median over seeds of the queries until the table's best-validation architecture was evaluated,
    /// a seed that never found it counting as budget + 1; null when that median is not a real
    /// query count (at least half the seeds did not find it), or there is no table.
    /// </summary>
    public double? MedianQueriesToBest
    {
        get
        {
            if (Reference?.BestValidKey == null || Seeds.Length == 0) return null;
            var v = Seeds.Select(s => (double)(s.QueriesToBest ?? int.MaxValue)).OrderBy(x => x).ToArray();
            int n = v.Length;
            double hi = v[n / 2], lo = v[(n - 1) / 2];
            if (hi == int.MaxValue) return null;
            return (lo + hi) / 2;
        }
    }

    public double? MeanHv => Seeds.All(s => s.Hypervolume != null) && Seeds.Length > 0 ? Seeds.Average(s => s.Hypervolume!.Value) : null;
    public double? StdHv => MeanHv == null ? null : Std(Seeds.Select(s => s.Hypervolume!.Value));
    public double? HvRatio => MeanHv is { } h && Reference?.TrueFrontHv is { } t && t > 0 ? h / t : null;

    /// <summary>Mean (and std) over seeds of the anytime test curve, per query 1..budget.</summary>
    public (double[] Mean, double[] Std) AnytimeTest() => Curve(s => s.AnytimeTest);
    public (double[] Mean, double[] Std) AnytimeHv() => Curve(s => s.AnytimeHv ?? []);

    (double[] Mean, double[] Std) Curve(Func<SeedResult, double[]> get)
    {
        int n = Seeds.Length == 0 ? 0 : Seeds.Max(s => get(s).Length);
        var m = new double[n]; var sd = new double[n];
        for (int q = 0; q < n; q++)
        {
            // a seed that stopped early (budget in cost) keeps its last value
            var vals = Seeds.Select(s => { var c = get(s); return c.Length == 0 ? double.NaN : c[Math.Min(q, c.Length - 1)]; }).ToList();
            m[q] = Mean(vals); sd[q] = Std(vals);
        }
        return (m, sd);
    }
}

/// <summary>The evaluation protocol (methods.md §3): many seeds, select by validation, report test, compare with the table.</summary>
public static class Protocol
{
    public static ProtocolResult Run<TArch>(string strategy, Func<ulong, ISearchStrategy<TArch>> make,
        ISearchSpace<TArch> space, IEvaluator<TArch> evaluator, SearchProblem problem, ProtocolConfig cfg,
        TableReference? reference, Action<SeedResult>? onSeedDone = null, CancellationToken cancel = default) where TArch : notnull
    {
        if (cfg.Seeds < 1) throw new TailorException($"protocol: --seeds must be >= 1, got {cfg.Seeds}");
        if (cfg.Parallel < 1) throw new TailorException($"protocol: --parallel must be >= 1, got {cfg.Parallel}");
        cfg.Budget.Validate(space.Size);
        if (reference != null && reference.Feasible == 0)
            throw new TailorException($"infeasible constraint: no architecture of the table satisfies {string.Join(", ", problem.Constraints)}");
        var hvRef = cfg.HvReference ?? reference?.HvReference;
        var sw = Stopwatch.StartNew();
        var results = new SeedResult[cfg.Seeds];
        var opts = make((ulong)cfg.FirstSeed).Options;
        System.Threading.Tasks.Parallel.For(0, cfg.Seeds, new ParallelOptions { MaxDegreeOfParallelism = cfg.Parallel, CancellationToken = cancel }, i =>
        {
            int seed = cfg.FirstSeed + i;
            var res = RunSeed(seed, make((ulong)seed), space, evaluator, problem, cfg, reference, hvRef, cancel);
            results[i] = res;
            onSeedDone?.Invoke(res);
        });
        return new ProtocolResult
        {
            Strategy = strategy, Options = opts, Problem = problem, Config = cfg, Reference = reference,
            Seeds = results, ElapsedS = sw.Elapsed.TotalSeconds,
        };
    }

    public static SeedResult RunSeed<TArch>(int seed, ISearchStrategy<TArch> strategy, ISearchSpace<TArch> space, IEvaluator<TArch> evaluator,
        SearchProblem problem, ProtocolConfig cfg, TableReference? reference, double[]? hvRef, CancellationToken cancel = default) where TArch : notnull
    {
        var sw = Stopwatch.StartNew();
        var run = new SearchRun<TArch>(space, evaluator, problem, strategy, cfg.Budget);
        string? statePath = cfg.StateDir == null ? null : Path.Combine(cfg.StateDir, $"seed_{seed}.json");
        if (statePath != null && cfg.Resume && File.Exists(statePath)) run.LoadFrom(statePath);
        int lastSaved = run.Context.Queries;
        run.Run(onStep: r =>
        {
            cancel.ThrowIfCancellationRequested();
            if (statePath != null && cfg.CheckpointEvery > 0 && r.Context.Queries - lastSaved >= cfg.CheckpointEvery)
            {
                r.SaveTo(statePath);
                lastSaved = r.Context.Queries;
            }
        });
        if (statePath != null) run.SaveTo(statePath);
        return Summarise(seed, run.Context, reference, hvRef, sw.Elapsed.TotalSeconds);
    }

    public static SeedResult Summarise<TArch>(int seed, SearchContext<TArch> ctx, TableReference? reference, double[]? hvRef, double elapsed) where TArch : notnull
    {
        var problem = ctx.Problem;
        var h = ctx.History;
        var anyTest = new double[h.Count];
        var anyValid = new double[h.Count];
        bool twoObj = problem.Objectives.Count == 2 && hvRef != null;
        var anyHv = twoObj ? new double[h.Count] : null;
        Evaluated<TArch>? best = null;
        int? toBest = null;
        var feasPts = new List<double[]>();
        for (int q = 0; q < h.Count; q++)
        {
            var e = h[q];
            if (best == null || problem.Compare(e.Metrics, best.Metrics) < 0) best = e;
            bool ok = problem.Feasible(best.Metrics);
            anyTest[q] = ok ? best.Metrics.Test : double.NaN;
            anyValid[q] = ok ? best.Metrics.Valid : double.NaN;
            if (toBest == null && reference?.BestValidKey == e.Key) toBest = q + 1;
            if (twoObj)
            {
                // the hypervolume only changes when a feasible point arrives
                if (problem.Feasible(e.Metrics))
                {
                    feasPts.Add(problem.Objectives.Select(o => o.Minimised(e.Metrics)).ToArray());
                    anyHv![q] = Pareto.Hypervolume2D(feasPts, hvRef![0], hvRef[1]);
                }
                else anyHv![q] = q > 0 ? anyHv[q - 1] : 0;
            }
        }
        List<double[]>? front = twoObj ? Pareto.Front(feasPts).Select(i => feasPts[i]).OrderBy(p => p[0]).ToList() : null;
        return new SeedResult
        {
            Seed = seed, Queries = h.Count, Cost = ctx.Cost,
            SelectedKey = best?.Key, Selected = best?.Metrics, SelectedFeasible = best != null && problem.Feasible(best.Metrics),
            QueriesToBest = toBest,
            Hypervolume = twoObj ? (anyHv!.Length > 0 ? anyHv[^1] : 0) : null,
            AnytimeTest = anyTest, AnytimeValid = anyValid, AnytimeHv = anyHv,
            History = h.Select(e => (e.Key, e.Metrics)).ToList(),
            Front = front, ElapsedS = elapsed,
        };
    }
}
