using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Tailor.Benchmarks;
using Tailor.Search;

namespace Tailor.Cli.Commands;

/// <summary>
/// `tailor search ...`: multi-trial strategies on tabular benchmarks (random, rea, local, weaknas,
/// nsga2), `search compare` (several strategies, one plot) and `search speed`. Other methods add
/// their own subcommands: <c>SearchCommands.Search(MyCommands.Donna(), ...)</c> in Program.cs, or
/// <c>Search().Subcommands.Add(...)</c>.
/// </summary>
public static class SearchCommands
{
    public static Command Search(params Command[] more)
    {
        var cmd = new Command("search",
            "Architecture search. Multi-trial strategies run on tabular benchmarks (NAS-Bench-201, HW-NAS-Bench FBNet) under the " +
            "evaluation protocol: many seeds, select by validation, report the selected architecture's test accuracy, regret, " +
            "queries to the table's best-validation architecture, and for nsga2 the hypervolume against the table's true front.");
        foreach (var name in StrategyFactory.Names) cmd.Subcommands.Add(StrategyCommand(name));
        cmd.Subcommands.Add(Compare());
        cmd.Subcommands.Add(Speed());
        foreach (var c in more) cmd.Subcommands.Add(c);
        return cmd;
    }

    /// <summary>The bench and protocol options every multi-trial command shares (public so other search commands can reuse them).</summary>
    public sealed class BenchOptions
    {
        public readonly Option<string> Bench = new("--bench")
        {
            Description = "Benchmark: nb201 (NAS-Bench-201 CIFAR-10, accuracy + latency) or fbnet (HW-NAS-Bench FBNet, latencies only: " +
                          "single-objective strategies need --valid-column there; nsga2 minimises --latency-column and --latency2-column)",
            DefaultValueFactory = _ => "nb201",
        };
        public readonly Option<string?> File = new("--bench-file") { Description = $"Benchmark CSV (default: the shared data file under ${SharedData.EnvVar} or ../shared/data)" };
        public readonly Option<string?> Valid = new("--valid-column") { Description = $"Column searched on (maximised); nb201 default {BenchFactory.Nb201Valid}; fbnet: none" };
        public readonly Option<string?> Test = new("--test-column") { Description = $"Column reported for the selected architecture (never searched on); nb201 default {BenchFactory.Nb201Test}" };
        public readonly Option<string?> Latency = new("--latency-column") { Description = $"Latency column (ms); default {BenchFactory.DefaultLatency}" };
        public readonly Option<string?> Latency2 = new("--latency2-column") { Description = $"Second latency column (fbnet nsga2 objective); fbnet default {BenchFactory.FbnetLatency2}" };
        public readonly Option<double?> LatencyMax = new("--latency-max-ms") { Description = "Constraint: latency <= X ms (feasible architectures first; infeasible if the table has none)" };
        public readonly Option<string?> CostColumn = new("--cost-column") { Description = "Column of simulated evaluation cost (e.g. training seconds) counted against --max-cost" };
        public readonly Option<double?> MaxCost = new("--max-cost") { Description = "Simulated training-time budget: stop when the summed --cost-column reaches it" };
        public readonly Option<int> Budget = new("--budget") { Description = "Unique architecture queries per seed", DefaultValueFactory = _ => 150 };
        public readonly Option<int> Seeds = new("--seeds") { Description = "Number of seeds (runs)", DefaultValueFactory = _ => 20 };
        public readonly Option<int> FirstSeed = new("--first-seed") { Description = "Seeds are first-seed .. first-seed + seeds - 1", DefaultValueFactory = _ => 0 };
        public readonly Option<int> Parallel = new("--parallel") { Description = "Seeds run at once (results do not depend on it)", DefaultValueFactory = _ => 1 };
        public readonly Option<string?> Out = new("--out") { Description = "Output folder (summary.json, histories/seed_N.csv, anytime.png, state/); default runs/search/<bench>-<strategy>" };
        public readonly Option<bool> Resume = new("--resume") { Description = "Continue from the saved states in <out>/state (finished seeds are not rerun)" };
        public readonly Option<int> CheckpointEvery = new("--checkpoint-every") { Description = "Save each seed's full state every N queries (0: at its end only)", DefaultValueFactory = _ => 0 };
        public readonly Option<string?> HvRef = new("--hv-ref") { Description = "Hypervolume reference point 'A,B' in the objectives' own units (e.g. 80,20 = 80 % accuracy, 20 ms); default: the table's worst value of each objective" };
        public readonly Option<bool> Json = Cli.JsonOption();

        public void AddTo(Command c)
        {
            foreach (var o in new Option[] { Bench, File, Valid, Test, Latency, Latency2, LatencyMax, CostColumn, MaxCost, Budget, Seeds, FirstSeed, Parallel, Out, Resume, CheckpointEvery, HvRef, Json })
                c.Options.Add(o);
        }

        public BenchRequest Request(ParseResult r) => new()
        {
            Bench = r.GetValue(Bench)!, File = r.GetValue(File), ValidColumn = r.GetValue(Valid), TestColumn = r.GetValue(Test),
            LatencyColumn = r.GetValue(Latency), Latency2Column = r.GetValue(Latency2), LatencyMaxMs = r.GetValue(LatencyMax), CostColumn = r.GetValue(CostColumn),
        };
    }

    /// <summary>Strategy options; each strategy reads the ones it uses.</summary>
    sealed class StrategyOptions
    {
        public readonly Option<int?> Population = new("--population") { Description = $"rea: population P (default {Tailor.Search.Strategies.RegularizedEvolution<int>.DefaultPopulation}); nsga2: mu (default {new Tailor.Search.Strategies.Nsga2Options().Population})" };
        public readonly Option<int?> Sample = new("--sample-size") { Description = $"rea: tournament sample S (default {Tailor.Search.Strategies.RegularizedEvolution<int>.DefaultSample})" };
        public readonly Option<int?> Offspring = new("--offspring") { Description = "nsga2: lambda, children per generation (default: = population)" };
        public readonly Option<double?> Cx = new("--crossover-prob") { Description = "nsga2: crossover probability (default 0.9)" };
        public readonly Option<double?> Mut = new("--mutation-prob") { Description = "nsga2: mutation probability per child (default 1)" };
        public readonly Option<int?> Initial = new("--initial") { Description = $"weaknas: initial random samples (default 10); local: random samples per (re)start (default {Tailor.Search.Strategies.LocalSearch<int>.DefaultInitial})" };
        public readonly Option<int?> Batch = new("--batch") { Description = "weaknas: samples per iteration (default 10); random: samples per ask (default 1)" };
        public readonly Option<int?> TopN = new("--top-n") { Description = "weaknas: draw each batch from the predicted top-N (default 100)" };
        public readonly Option<int?> Pool = new("--pool") { Description = "weaknas: candidates ranked per iteration when the space is not enumerable (default 10000)" };
        public readonly Option<string?> Hidden = new("--hidden") { Description = "weaknas: MLP hidden widths, e.g. 32,32 (default)" };
        public readonly Option<int?> Epochs = new("--epochs") { Description = "weaknas: full-batch Adam epochs per refit (default 200)" };
        public readonly Option<double?> Lr = new("--lr") { Description = "weaknas: Adam learning rate (default 0.01)" };
        public readonly Option<string?> Target = new("--target") { Description = "weaknas: predictor target, rank (quantile of the score among the evaluated; default) or raw" };
        public readonly Option<int?> Ensemble = new("--ensemble") { Description = "weaknas: weak MLPs averaged per iteration (default 1)" };
        public readonly Option<bool> BestImprovement = new("--best-improvement") { Description = "local: move to the best neighbour after the whole neighbourhood (default: first improvement)" };

        public IEnumerable<Option> For(string strategy) => strategy switch
        {
            "random" => [Batch],
            "rea" => [Population, Sample],
            "local" => [Initial, BestImprovement],
            "weaknas" => [Initial, Batch, TopN, Pool, Hidden, Epochs, Lr, Target, Ensemble],
            "nsga2" => [Population, Offspring, Cx, Mut],
            _ => [Population, Sample, Offspring, Cx, Mut, Initial, Batch, TopN, Pool, Hidden, Epochs, Lr, Target, Ensemble, BestImprovement],
        };

        public StrategySettings Read(ParseResult r)
        {
            int[]? hidden = null;
            if (r.GetValue(Hidden) is { } h)
            {
                try { hidden = h.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x.Trim(), CultureInfo.InvariantCulture)).ToArray(); }
                catch (FormatException) { throw new TailorException($"--hidden: '{h}' is not a comma-separated list of widths"); }
            }
            return new StrategySettings
            {
                Population = r.GetValue(Population), SampleSize = r.GetValue(Sample), Offspring = r.GetValue(Offspring),
                CrossoverProb = r.GetValue(Cx), MutationProb = r.GetValue(Mut), Initial = r.GetValue(Initial), Batch = r.GetValue(Batch),
                TopN = r.GetValue(TopN), Pool = r.GetValue(Pool), Hidden = hidden, Epochs = r.GetValue(Epochs), LearningRate = r.GetValue(Lr),
                BestImprovement = r.GetValue(BestImprovement), Target = r.GetValue(Target), Ensemble = r.GetValue(Ensemble),
            };
        }
    }

    static Command StrategyCommand(string name)
    {
        var bo = new BenchOptions();
        var so = new StrategyOptions();
        var c = new Command(name, StrategyFactory.Descriptions[name] + ". Runs --seeds seeds of --budget queries and reports the protocol's summary.");
        bo.AddTo(c);
        foreach (var o in so.For(name)) c.Options.Add(o);
        c.SetAction(r => Cli.Run(() => Execute(r, bo, so, [name], compareDir: null)));
        return c;
    }

    static Command Compare()
    {
        var bo = new BenchOptions();
        var so = new StrategyOptions();
        var strategies = new Option<string>("--strategies") { Description = $"Comma-separated strategies ({string.Join(",", StrategyFactory.Names)})", DefaultValueFactory = _ => "random,rea,local,weaknas" };
        var c = new Command("compare", "Run several strategies under the same protocol and plot their anytime curves on one PNG (<out>/anytime.png, <out>/compare.json, one folder per strategy)");
        bo.AddTo(c);
        c.Options.Add(strategies);
        foreach (var o in so.For("all")) c.Options.Add(o);
        c.SetAction(r => Cli.Run(() =>
        {
            var names = r.GetValue(strategies)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToArray();
            if (names.Length == 0) throw new TailorException("--strategies: give at least one strategy");
            foreach (var n in names) if (!StrategyFactory.Names.Contains(n)) throw new TailorException($"--strategies: unknown strategy '{n}' (known: {string.Join(", ", StrategyFactory.Names)})");
            return Execute(r, bo, so, names, compareDir: r.GetValue(bo.Out) ?? Path.Combine("runs", "search", $"{r.GetValue(bo.Bench)}-compare"));
        }));
        return c;
    }

    static Command Speed()
    {
        var bench = new Option<string>("--bench") { Description = "Benchmark (nb201 or fbnet)", DefaultValueFactory = _ => "nb201" };
        var file = new Option<string?>("--bench-file") { Description = "Benchmark CSV (default: the shared data file)" };
        var budget = new Option<int>("--budget") { Description = "Queries per timed run", DefaultValueFactory = _ => 1000 };
        var json = Cli.JsonOption();
        var c = new Command("speed", "Throughput of the strategies on a table: random/REA/local queries per second, one NSGA-II generation of 100, one WeakNAS refit") { bench, file, budget, json };
        c.SetAction(r => Cli.Run(() =>
        {
            var req = new BenchRequest { Bench = r.GetValue(bench)!, File = r.GetValue(file) };
            List<SpeedBench.Result> res = req.Bench switch
            {
                "nb201" => SpeedOf(BenchFactory.Nb201(req), r.GetValue(budget)),
                "fbnet" => SpeedOf(BenchFactory.Fbnet(req with { ValidColumn = BenchFactory.DefaultLatency }), r.GetValue(budget)),
                var b => throw new TailorException($"--bench: unknown benchmark '{b}' (known: {string.Join(", ", BenchFactory.Names)})"),
            };
            if (r.GetValue(json))
            {
                var o = new JsonObject { ["bench"] = req.Bench, ["versions"] = ProtocolOutput.Versions(), ["processors"] = Environment.ProcessorCount };
                foreach (var x in res) o[x.Name] = new JsonObject { ["value"] = Math.Round(x.Value, 3), ["unit"] = x.Unit, ["detail"] = x.Detail };
                Console.Out.WriteLine(o.ToJsonString(Cli.JsonOptions));
                return 0;
            }
            var t = new Table().AddColumns("measure", "value", "unit", "detail");
            foreach (var x in res) t.AddRow(x.Name, x.Value.ToString(x.Value >= 100 ? "N0" : "F2", CultureInfo.InvariantCulture), x.Unit, Cli.Escape(x.Detail));
            AnsiConsole.Write(t);
            return 0;
        }));
        return c;
    }

    static List<SpeedBench.Result> SpeedOf<TArch>(BenchSetup<TArch> setup, int budget) where TArch : notnull =>
        SpeedBench.Run(setup.Space, setup.Evaluator, setup.ProblemFor("random"), setup.ProblemFor("nsga2"), budget);

    static int Execute(ParseResult r, BenchOptions bo, StrategyOptions so, string[] strategies, string? compareDir)
    {
        var req = bo.Request(r);
        return req.Bench switch
        {
            "nb201" => Go(BenchFactory.Nb201(req), r, bo, so, strategies, compareDir),
            "fbnet" => Go(BenchFactory.Fbnet(req), r, bo, so, strategies, compareDir),
            var b => throw new TailorException($"--bench: unknown benchmark '{b}' (known: {string.Join(", ", BenchFactory.Names)})"),
        };
    }

    static double[]? ParseHvRef(string? s, SearchProblem p)
    {
        if (s == null) return null;
        var parts = s.Split(',');
        if (parts.Length != p.Objectives.Count) throw new TailorException($"--hv-ref: '{s}' needs {p.Objectives.Count} comma-separated values ({string.Join(", ", p.Objectives)})");
        var v = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out v[i])) throw new TailorException($"--hv-ref: '{parts[i]}' is not a number");
            if (p.Objectives[i].Maximise) v[i] = -v[i];
        }
        return v;
    }

    static int Go<TArch>(BenchSetup<TArch> setup, ParseResult r, BenchOptions bo, StrategyOptions so, string[] strategies, string? compareDir) where TArch : notnull
    {
        bool json = r.GetValue(bo.Json);
        int seeds = r.GetValue(bo.Seeds), firstSeed = r.GetValue(bo.FirstSeed);
        var settings = so.Read(r);
        var budget = new Budget(r.GetValue(bo.Budget), r.GetValue(bo.MaxCost));
        budget.Validate(setup.Space.Size);
        if (budget.MaxCost != null && setup.Evaluator.Columns.Cost == null) throw new TailorException("--max-cost needs --cost-column");
        var results = new List<ProtocolResult>();
        var summaries = new List<JsonObject>();
        // progress goes to stderr so that stdout holds only the JSON / the table
        var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        foreach (var name in strategies)
        {
            var problem = setup.ProblemFor(name);
            var hvRef = ParseHvRef(r.GetValue(bo.HvRef), problem);
            var reference = setup.Reference(problem, hvRef);
            string outDir = compareDir != null ? Path.Combine(compareDir, name) : r.GetValue(bo.Out) ?? Path.Combine("runs", "search", $"{setup.Bench}-{name}");
            var cfg = new ProtocolConfig
            {
                Seeds = seeds, FirstSeed = firstSeed, Budget = budget, Parallel = r.GetValue(bo.Parallel),
                StateDir = Path.Combine(outDir, "state"), Resume = r.GetValue(bo.Resume), CheckpointEvery = r.GetValue(bo.CheckpointEvery),
                HvReference = hvRef,
            };
            StrategyFactory.Create<TArch>(name, 0, settings); // validates the options before any work
            ProtocolResult? res = null;
            err.Progress().AutoClear(json).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask($"{setup.Bench} {name}: {seeds} seeds x {budget.MaxQueries} queries", maxValue: seeds);
                    var gate = new object();
                    res = Protocol.Run(name, s => StrategyFactory.Create<TArch>(name, s, settings), setup.Space, setup.Evaluator, problem, cfg, reference,
                        _ => { lock (gate) task.Increment(1); });
                });
            var config = new Dictionary<string, object?>(setup.Describe())
            {
                ["command"] = "search " + (compareDir != null ? "compare" : name),
                ["out"] = Path.GetFullPath(outDir), ["parallel"] = cfg.Parallel, ["checkpoint_every"] = cfg.CheckpointEvery, ["resumed"] = cfg.Resume,
            };
            summaries.Add(ProtocolOutput.Write(res!, outDir, config));
            results.Add(res!);
        }
        JsonObject? compare = null;
        if (compareDir != null)
            compare = ProtocolOutput.WriteCompare(results, compareDir, setup.Describe(),
                $"{setup.Bench}: test accuracy of the architecture selected by validation ({seeds} seeds)");
        if (json)
        {
            Console.Out.WriteLine((compare ?? summaries[0]).ToJsonString(Cli.JsonOptions));
            return 0;
        }
        PrintTable(results, setup.Bench);
        Console.Out.WriteLine(compareDir != null ? $"wrote {Path.GetFullPath(compareDir)} (anytime.png, compare.json, one folder per strategy)"
                                                 : $"wrote {summaries[0]["config"]!["out"]} (summary.json, histories/, anytime.png)");
        return 0;
    }

    static string F(double v, string fmt = "F2") => double.IsFinite(v) ? v.ToString(fmt, CultureInfo.InvariantCulture) : "-";
    static string F(double? v, string fmt = "F2") => v is { } x ? F(x, fmt) : "-";

    static void PrintTable(IReadOnlyList<ProtocolResult> results, string bench)
    {
        var first = results[0];
        var t = new Table().Title($"{bench}: {first.Seeds.Length} seeds x {first.Config.Budget.MaxQueries} queries");
        t.AddColumns("strategy", "test", "valid", "regret", "RI %", "q->best", "found", "HV %", "s");
        foreach (var r in results)
            t.AddRow(r.Strategy, $"{F(r.MeanTest)}±{F(r.StdTest)}", F(r.MeanValid), F(r.MeanRegret), F(r.RelativeImprovement, "F1"),
                F(r.MedianQueriesToBest, "F0"), r.Reference?.BestValidKey == null ? "-" : $"{r.FoundBest}/{r.Seeds.Length}", F(r.HvRatio * 100, "F2"), F(r.ElapsedS, "F1"));
        AnsiConsole.Write(t);
        if (first.Reference is { } reff)
        {
            Console.Out.WriteLine($"test: mean ± std over seeds of the test accuracy of the architecture selected by {first.Problem.Primary}; regret: vs the table's best test {F(reff.BestTest)}; " +
                                  $"RI: relative improvement over the table's mean test {F(reff.MeanTest)}; q->best: median queries until the table's best by {first.Problem.Primary} " +
                                  $"(test {F(reff.BestValidTest)}) was evaluated, '-' if at least half the seeds missed it; found: seeds that found it.");
            Console.Out.WriteLine($"table: {reff.Feasible}/{reff.Total} feasible" + (reff.TrueFrontHv is { } hv ? $"; HV %: mean hypervolume / the true front's ({F(hv, "F3")})" : ""));
        }
    }
}
