using Tailor.Search;
using Tailor.Util;

namespace Tailor.Benchmarks;

/// <summary>Which benchmark table and columns to search, and the latency constraint (CLI flags map 1:1).</summary>
public sealed record BenchRequest
{
    public string Bench { get; init; } = "nb201";
    /// <summary>CSV file; null: the shared data file of the bench.</summary>
    public string? File { get; init; }
    public string? ValidColumn { get; init; }
    public string? TestColumn { get; init; }
    public string? LatencyColumn { get; init; }
    /// <summary>FBNet: the second latency objective of nsga2.</summary>
    public string? Latency2Column { get; init; }
    public double? LatencyMaxMs { get; init; }
    /// <summary>A column of simulated evaluation cost (e.g. training seconds) for a cost budget.</summary>
    public string? CostColumn { get; init; }
}

/// <summary>A loaded benchmark: space, table evaluator, and the problem each strategy solves on it.</summary>
public sealed class BenchSetup<TArch> where TArch : notnull
{
    public required string Bench { get; init; }
    public required ISearchSpace<TArch> Space { get; init; }
    public required TableEvaluator<TArch> Evaluator { get; init; }
    public required BenchRequest Request { get; init; }

    /// <summary>
    /// The problem a strategy solves. With an accuracy column: maximise validation accuracy (nsga2:
    /// and minimise latency). Without one (FBNet): single-objective strategies are refused; nsga2
    /// minimises the two latency columns. --latency-max-ms adds latency &lt;= X.
    /// </summary>
    public SearchProblem ProblemFor(string strategy)
    {
        var c = Evaluator.Columns;
        var constraints = new List<Constraint>();
        if (Request.LatencyMaxMs is { } max)
        {
            if (c.Latency == null) throw new TailorException($"{Bench}: --latency-max-ms needs --latency-column");
            OptionCheck.Positive("--latency-max-ms", max);
            constraints.Add(new Constraint(Metrics.LatencyName, max));
        }
        bool multi = StrategyFactory.IsMultiObjective(strategy);
        if (c.Valid != null)
        {
            if (!multi) return new SearchProblem([Objective.Max(Metrics.ValidName)], constraints);
            if (c.Latency == null) throw new TailorException($"{Bench}: {strategy} needs --latency-column for its second objective");
            return new SearchProblem([Objective.Max(Metrics.ValidName), Objective.Min(Metrics.LatencyName)], constraints);
        }
        if (!multi)
            throw new TailorException($"{Bench}: {Evaluator.Path} has no accuracy column, so '{strategy}' (single-objective accuracy search) cannot run; " +
                                      "pass --valid-column with an accuracy column, or use nsga2, which minimises --latency-column and --latency2-column");
        if (c.Latency == null || !c.Extra.ContainsKey("latency2"))
            throw new TailorException($"{Bench}: without an accuracy column nsga2 minimises two latencies: give --latency-column and --latency2-column");
        return new SearchProblem([Objective.Min(Metrics.LatencyName), Objective.Min("latency2")], constraints);
    }

    public TableReference Reference(SearchProblem problem, double[]? hvRef = null)
    {
        var rows = Evaluator.Archs.Select((a, i) => (Space.Key(a), Evaluator.RowMetrics[i])).ToList();
        return TableReference.From(rows, problem, hvRef);
    }

    public IReadOnlyDictionary<string, object?> Describe() => new Dictionary<string, object?>
    {
        ["bench"] = Bench,
        ["space"] = Space.Name,
        ["space_size"] = Space.Size,
        ["bench_file"] = Evaluator.Path,
        ["arch_column"] = Evaluator.Columns.Arch,
        ["valid_column"] = Evaluator.Columns.Valid,
        ["test_column"] = Evaluator.Columns.Test,
        ["latency_column"] = Evaluator.Columns.Latency,
        ["latency2_column"] = Evaluator.Columns.Extra.GetValueOrDefault("latency2"),
        ["latency_max_ms"] = Request.LatencyMaxMs,
        ["cost_column"] = Evaluator.Columns.Cost,
    };
}

/// <summary>Loads the built-in benchmarks.</summary>
public static class BenchFactory
{
    public static readonly string[] Names = ["nb201", "fbnet"];

    public const string Nb201Valid = "cifar10_valid_acc_200ep", Nb201Test = "cifar10_test_acc_200ep", DefaultLatency = "latency_ms_pixel3", FbnetLatency2 = "latency_ms_gtx1080ti_b1";

    static string? Col(string? given, string? fallback) => given switch
    {
        null => fallback,
        "" or "none" => null,
        _ => given,
    };

    /// <summary>NAS-Bench-201 (CIFAR-10): the full cell space when the table holds all 15,625 cells, else the table's cells.</summary>
    public static BenchSetup<Nb201Arch> Nb201(BenchRequest r)
    {
        string file = r.File ?? SharedData.Path201;
        var table = CsvTable.Load(file, SharedData.NotFoundHint);
        var cols = new TableColumns
        {
            Arch = "arch_str",
            Valid = Col(r.ValidColumn, Nb201Valid), Test = Col(r.TestColumn, Nb201Test), Latency = Col(r.LatencyColumn, DefaultLatency),
            Cost = r.CostColumn,
            Extra = r.Latency2Column is { } l2 ? new Dictionary<string, string> { ["latency2"] = l2 } : new Dictionary<string, string>(),
        };
        var full = new Nb201Space();
        var ev = new TableEvaluator<Nb201Arch>(full, table, cols);
        ISearchSpace<Nb201Arch> space = ev.Archs.Count == Nb201Arch.Count ? full : new TableSubsetSpace<Nb201Arch>(full, ev.Archs, Nb201Space.Distance);
        return new BenchSetup<Nb201Arch> { Bench = "nb201", Space = space, Evaluator = ev, Request = r with { File = file } };
    }

    /// <summary>HW-NAS-Bench FBNet (CIFAR-100 latencies): the space is the table's 5,000 architectures (of 9^22).</summary>
    public static BenchSetup<FbnetArch> Fbnet(BenchRequest r)
    {
        string file = r.File ?? SharedData.PathFbnet;
        var table = CsvTable.Load(file, SharedData.NotFoundHint);
        var cols = new TableColumns
        {
            Arch = "op_indices",
            Valid = Col(r.ValidColumn, null), Test = Col(r.TestColumn, null), Latency = Col(r.LatencyColumn, DefaultLatency),
            Cost = r.CostColumn,
            Extra = Col(r.Latency2Column, FbnetLatency2) is { } l2 ? new Dictionary<string, string> { ["latency2"] = l2 } : new Dictionary<string, string>(),
        };
        var full = new FbnetSpace();
        var ev = new TableEvaluator<FbnetArch>(full, table, cols);
        var space = new TableSubsetSpace<FbnetArch>(full, ev.Archs, FbnetSpace.Distance);
        return new BenchSetup<FbnetArch> { Bench = "fbnet", Space = space, Evaluator = ev, Request = r with { File = file } };
    }
}
