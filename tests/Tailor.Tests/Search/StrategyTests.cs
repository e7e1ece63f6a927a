using System.Text.Json.Nodes;
using Tailor.Benchmarks;
using Tailor.Search;
using Tailor.Search.Strategies;

namespace Tailor.Tests.Search;

public class StrategyTests
{
    static readonly Nb201Space Space = new();
    static readonly SearchProblem Single = new([Objective.Max(Metrics.ValidName)]);
    static readonly SearchProblem Multi = new([Objective.Max(Metrics.ValidName), Objective.Min(Metrics.LatencyName)]);

    static ISearchStrategy<Nb201Arch> Make(string name, ulong seed) => name switch
    {
        // small settings so that every phase (restarts, several WeakNAS iterations, NSGA-II generations) is crossed
        "weaknas" => new WeakNas<Nb201Arch>(seed, new WeakNasOptions { Epochs = 30 }),
        "nsga2" => new Nsga2<Nb201Arch>(seed, new Nsga2Options { Population = 12, Offspring = 8 }),
        "local" => new LocalSearch<Nb201Arch>(seed, initial: 3),
        "rea" => new RegularizedEvolution<Nb201Arch>(seed, 10, 3),
        _ => StrategyFactory.Create<Nb201Arch>(name, seed),
    };

    static SearchProblem ProblemOf(string name) => name == "nsga2" ? Multi : Single;

    static List<(string, double)> RunAll(string name, ulong seed, int budget)
    {
        var run = new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), ProblemOf(name), Make(name, seed), new Budget(budget));
        run.Run();
        return run.Context.History.Select(e => (e.Key, e.Metrics.Valid)).ToList();
    }

    public static TheoryData<string> Names => new(StrategyFactory.Names);

    [Theory, MemberData(nameof(Names))]
    public void DeterministicForASeedAndNeverRepeats(string name)
    {
        var a = RunAll(name, 11, 70);
        var b = RunAll(name, 11, 70);
        Assert.Equal(70, a.Count);
        Assert.Equal(a, b);
        Assert.Equal(a.Count, a.Select(x => x.Item1).Distinct().Count());
        Assert.NotEqual(a, RunAll(name, 12, 70));
    }

    [Theory, MemberData(nameof(Names))]
    public void ResumedRunEqualsUninterruptedRun(string name)
    {
        var full = RunAll(name, 5, 70);
        foreach (int stop in new[] { 1, 13, 37 })
        {
            var first = new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), ProblemOf(name), Make(name, 5), new Budget(70));
            first.Run(stopAfterQueries: stop);
            string dir = Data.TempDir();
            string path = Path.Combine(dir, "state.json");
            first.SaveTo(path);
            Assert.Empty(Directory.GetFiles(dir, ".*tmp*"));
            var ev = new SyntheticNb201();
            // a fresh strategy object with another seed: everything must come from the state
            var second = new SearchRun<Nb201Arch>(Space, ev, ProblemOf(name), Make(name, 999), new Budget(70));
            second.LoadFrom(path);
            Assert.Equal(first.Context.Queries, second.Context.Queries);
            second.Run();
            Assert.Equal(70 - first.Context.Queries, ev.Calls); // nothing re-evaluated
            Assert.Equal(full, second.Context.History.Select(e => (e.Key, e.Metrics.Valid)).ToList());
        }
    }

    [Fact]
    public void StateOfAnotherStrategyOrBudgetIsRefused()
    {
        var run = new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), Single, Make("rea", 1), new Budget(30));
        run.Run(stopAfterQueries: 5);
        var state = run.Save();
        var other = new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), Single, Make("random", 1), new Budget(30));
        Assert.Contains("strategy 'rea'", Assert.Throws<TailorException>(() => other.Load((JsonObject)state.DeepClone())).Message);
        var budget = new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), Single, Make("rea", 1), new Budget(40));
        Assert.Contains("budget", Assert.Throws<TailorException>(() => budget.Load((JsonObject)state.DeepClone())).Message);
        string dir = Data.TempDir();
        File.WriteAllText(Path.Combine(dir, "bad.json"), "{not json");
        var fresh = new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), Single, Make("rea", 1), new Budget(30));
        Assert.Contains("bad.json", Assert.Throws<TailorException>(() => fresh.LoadFrom(Path.Combine(dir, "bad.json"))).Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(15626)]
    public void ImpossibleBudgetsAreRefused(int budget)
    {
        var e = Assert.Throws<TailorException>(() => new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), Single, Make("random", 1), new Budget(budget)));
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void WholeSpaceBudgetVisitsEveryArchitectureOnce()
    {
        var run = new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), Single, Make("random", 3), new Budget(Nb201Arch.Count));
        run.Run();
        Assert.Equal(Nb201Arch.Count, run.Context.History.Select(h => h.Key).Distinct().Count());
    }

    [Fact]
    public void ObjectivesTheEvaluatorDoesNotMeasureAreRefused()
    {
        var p = new SearchProblem([Objective.Max("accuracy_on_mars")]);
        Assert.Contains("accuracy_on_mars", Assert.Throws<TailorException>(() => new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), p, Make("random", 1), new Budget(5))).Message);
    }

    [Fact]
    public void SearchStrategiesBeatRandomOnTheSyntheticSpace()
    {
        double Mean(string name) => Enumerable.Range(0, 6).Average(s => RunAll(name, (ulong)s, 100).Max(x => x.Item2));
        double random = Mean("random");
        Assert.True(Mean("rea") > random, "rea");
        Assert.True(Mean("local") > random, "local");
        Assert.True(Mean("weaknas") > random, "weaknas");
    }

    [Fact]
    public void ConstrainedSearchSelectsAFeasibleArchitecture()
    {
        var p = new SearchProblem([Objective.Max(Metrics.ValidName)], [new Constraint(Metrics.LatencyName, 4.0)]);
        foreach (var name in StrategyFactory.Names)
        {
            var problem = name == "nsga2" ? new SearchProblem(Multi.Objectives, p.Constraints) : p;
            var run = new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), problem, Make(name, 2), new Budget(80));
            run.Run();
            var best = run.Context.Best()!;
            Assert.True(problem.Feasible(best.Metrics), name);
            // the best feasible of the history, by validation
            double bestFeasible = run.Context.History.Where(h => h.Metrics.Latency <= 4.0).Max(h => h.Metrics.Valid);
            Assert.Equal(bestFeasible, best.Metrics.Valid);
        }
    }

    [Fact]
    public void Nsga2SurvivalIsElitistAndCrowdingOrdered()
    {
        var run = new SearchRun<Nb201Arch>(Space, new SyntheticNb201(), Multi, Make("nsga2", 4), new Budget(200));
        run.Run();
        var nsga = (Nsga2<Nb201Arch>)run.Strategy;
        Assert.Equal(12, nsga.Population.Count);
        Assert.Equal(12, nsga.Population.Distinct().Count());
        // every member of the history's first front that fits is kept: no survivor is dominated by a non-survivor of rank 0
        var ctx = run.Context;
        var all = Enumerable.Range(0, ctx.Queries).ToList();
        var (rank, _, fronts) = Nsga2<Nb201Arch>.Assess(ctx, all);
        var front0 = fronts[0].Select(i => all[i]).ToHashSet();
        if (front0.Count >= 12) Assert.All(nsga.Population, i => Assert.Contains(i, front0));
        // survival from a union keeps whole fronts first
        var survivors = Nsga2<Nb201Arch>.Survive(ctx, all, 20);
        int worstKept = survivors.Max(i => rank[i]);
        Assert.All(all.Where(i => rank[i] < worstKept), i => Assert.Contains(i, survivors));
    }

    [Fact]
    public void BadStrategyOptionsAreRefused()
    {
        Assert.Throws<TailorException>(() => new RegularizedEvolution<Nb201Arch>(1, population: 5, sample: 6));
        Assert.Throws<TailorException>(() => new RegularizedEvolution<Nb201Arch>(1, population: 1));
        Assert.Throws<TailorException>(() => new WeakNas<Nb201Arch>(1, new WeakNasOptions { TopN = 5, Batch = 10 }));
        Assert.Throws<TailorException>(() => new WeakNas<Nb201Arch>(1, new WeakNasOptions { Target = "loss" }));
        Assert.Throws<TailorException>(() => new Nsga2<Nb201Arch>(1, new Nsga2Options { CrossoverProb = 1.5 }));
        Assert.Throws<TailorException>(() => StrategyFactory.Create<Nb201Arch>("bogo", 1));
    }
}
