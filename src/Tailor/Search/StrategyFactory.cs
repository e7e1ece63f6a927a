using Tailor.Search.Strategies;

namespace Tailor.Search;

/// <summary>Strategy options as given on the command line (null: the strategy's default).</summary>
public sealed record StrategySettings
{
    public int? Population { get; init; }
    public int? SampleSize { get; init; }
    public int? Offspring { get; init; }
    public int? Initial { get; init; }
    public int? Batch { get; init; }
    public int? TopN { get; init; }
    public int? Pool { get; init; }
    public int[]? Hidden { get; init; }
    public int? Epochs { get; init; }
    public double? LearningRate { get; init; }
    public double? CrossoverProb { get; init; }
    public double? MutationProb { get; init; }
    public bool BestImprovement { get; init; }
    public string? Target { get; init; }
    public int? Ensemble { get; init; }
}

/// <summary>Builds the built-in strategies by name.</summary>
public static class StrategyFactory
{
    public static readonly string[] Names = ["random", "rea", "local", "weaknas", "nsga2"];

    public static readonly IReadOnlyDictionary<string, string> Descriptions = new Dictionary<string, string>
    {
        ["random"] = "Random search: uniform samples without repeats",
        ["rea"] = "Regularized evolution: population P, sample S, mutate the best of the sample, remove the oldest",
        ["local"] = "Local search: first-improvement hill climbing over one-edit neighbours, random restarts",
        ["weaknas"] = "WeakNAS: weak MLP predictor refit each iteration; sample the next batch from its predicted top-N",
        ["nsga2"] = "NSGA-II multi-objective evolution (validation accuracy vs latency by default), with exact 2-D hypervolume",
    };

    public static bool IsMultiObjective(string name) => name == "nsga2";

    public static ISearchStrategy<TArch> Create<TArch>(string name, ulong seed, StrategySettings? s = null) where TArch : notnull
    {
        s ??= new StrategySettings();
        return name switch
        {
            "random" => new RandomSearch<TArch>(seed, s.Batch ?? 1),
            "rea" => new RegularizedEvolution<TArch>(seed, s.Population ?? RegularizedEvolution<TArch>.DefaultPopulation, s.SampleSize ?? RegularizedEvolution<TArch>.DefaultSample),
            "local" => new LocalSearch<TArch>(seed, s.Initial ?? LocalSearch<TArch>.DefaultInitial, s.BestImprovement),
            "weaknas" => new WeakNas<TArch>(seed, WeakNasWith(s)),
            "nsga2" => new Nsga2<TArch>(seed, Nsga2With(s)),
            _ => throw new TailorException($"unknown strategy '{name}' (known: {string.Join(", ", Names)})"),
        };
    }

    static WeakNasOptions WeakNasWith(StrategySettings s)
    {
        var d = new WeakNasOptions();
        return d with
        {
            Initial = s.Initial ?? d.Initial, Batch = s.Batch ?? d.Batch, TopN = s.TopN ?? d.TopN, Pool = s.Pool ?? d.Pool,
            Hidden = s.Hidden ?? d.Hidden, Epochs = s.Epochs ?? d.Epochs, LearningRate = s.LearningRate ?? d.LearningRate,
            Target = s.Target ?? d.Target, Ensemble = s.Ensemble ?? d.Ensemble,
        };
    }

    static Nsga2Options Nsga2With(StrategySettings s)
    {
        var d = new Nsga2Options();
        return d with
        {
            Population = s.Population ?? d.Population, Offspring = s.Offspring ?? d.Offspring,
            CrossoverProb = s.CrossoverProb ?? d.CrossoverProb, MutationProb = s.MutationProb ?? d.MutationProb,
        };
    }
}
