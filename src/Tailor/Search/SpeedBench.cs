using System.Diagnostics;
using Tailor.Search.Strategies;

namespace Tailor.Search;

/// <summary>Throughput measurements of the strategies on a table evaluator (bench/multitrial; never in unit tests).</summary>
public static class SpeedBench
{
    public sealed record Result(string Name, double Value, string Unit, string Detail);

    static double QueriesPerSecond<TArch>(Func<ulong, ISearchStrategy<TArch>> make, ISearchSpace<TArch> space, IEvaluator<TArch> ev,
        SearchProblem problem, int budget, int seeds) where TArch : notnull
    {
        // warm-up: let tiered JIT compile the hot paths to tier 1 first
        for (int w = 0; w < 3; w++) new SearchRun<TArch>(space, ev, problem, make(999 + (ulong)w), new Budget(budget)).Run();
        long q = 0;
        var sw = Stopwatch.StartNew();
        for (int s = 0; s < seeds; s++)
        {
            var run = new SearchRun<TArch>(space, ev, problem, make((ulong)s), new Budget(budget));
            run.Run();
            q += run.Context.Queries;
        }
        return q / sw.Elapsed.TotalSeconds;
    }

    public static List<Result> Run<TArch>(ISearchSpace<TArch> space, IEvaluator<TArch> ev, SearchProblem single, SearchProblem multi,
        int budget = 1000, int seeds = 20) where TArch : notnull
    {
        var res = new List<Result>();
        double rq = QueriesPerSecond(s => new RandomSearch<TArch>(s), space, ev, single, budget, seeds);
        res.Add(new("random", rq, "queries/s", $"{seeds} runs x {budget} queries, whole loop (ask, dedup, table look-up, tell)"));
        double eq = QueriesPerSecond(s => new RegularizedEvolution<TArch>(s), space, ev, single, budget, seeds);
        res.Add(new("rea", eq, "queries/s", $"{seeds} runs x {budget} queries, P={RegularizedEvolution<TArch>.DefaultPopulation}, S={RegularizedEvolution<TArch>.DefaultSample}"));
        double lq = QueriesPerSecond(s => new LocalSearch<TArch>(s), space, ev, single, budget, seeds);
        res.Add(new("local", lq, "queries/s", $"{seeds} runs x {budget} queries"));

        // NSGA-II: one generation of 100 children from a population of 100 (tournaments, variation, dedup, look-ups, sorting, crowding, survival)
        {
            var opt = new Nsga2Options { Population = 100, Offspring = 100 };
            int gens = 20;
            for (int w = 0; w < 8; w++) new SearchRun<TArch>(space, ev, multi, new Nsga2<TArch>(999 + (ulong)w, opt), new Budget(100 * (gens + 1))).Run();
            var times = new List<double>();
            for (int s = 0; s < 5; s++)
            {
                var run = new SearchRun<TArch>(space, ev, multi, new Nsga2<TArch>((ulong)s, opt), new Budget(100 * (gens + 1)));
                run.Step(); // initial population
                while (!run.Done)
                {
                    var sw = Stopwatch.StartNew();
                    run.Step();
                    times.Add(sw.Elapsed.TotalMilliseconds);
                }
            }
            times.Sort();
            res.Add(new("nsga2_generation", times.Average(), "ms", $"mean of {times.Count} generations, mu = lambda = 100 (median {times[times.Count / 2]:F2} ms, max {times[^1]:F2} ms)"));
        }

        // WeakNAS: one refit on 150 evaluated architectures, and one whole iteration (refit + rank the space + draw the batch)
        {
            var fits = new List<double>(); var iters = new List<double>();
            for (int s = 0; s < 6; s++)
            {
                var w = new WeakNas<TArch>((ulong)s);
                var run = new SearchRun<TArch>(space, ev, single, w, new Budget(160));
                run.Run(stopAfterQueries: 150);
                var sw = Stopwatch.StartNew();
                w.Fit(run.Context);
                double fit = sw.Elapsed.TotalMilliseconds;
                sw.Restart();
                run.Step();
                double it = sw.Elapsed.TotalMilliseconds;
                if (s > 0) { fits.Add(fit); iters.Add(it); } // s = 0 is the warm-up
            }
            res.Add(new("weaknas_refit", fits.Average(), "ms", $"MLP fit on 150 samples (mean of {fits.Count}, max {fits.Max():F1} ms)"));
            res.Add(new("weaknas_iteration", iters.Average(), "ms", $"refit + rank {space.Size:0} architectures + draw a batch (mean of {iters.Count})"));
        }
        return res;
    }
}
