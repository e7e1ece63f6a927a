using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;
using Tailor.Models.Cells;
using Tailor.Search.Differentiable;
using static TorchSharp.torch;

namespace Tailor.Cli.Commands;

/// <summary>
/// `tailor search darts|gdas|msg-das|darts-pt|hdas` (differentiable cell search, issue 7),
/// `tailor search step-bench` (per-step time and memory of the mixing schemes) and
/// `tailor cellnet count|write` (the cell-network IR).
/// </summary>
public static class CellSearchCommands
{
    /// <summary>Demo defaults per method: epochs that finish in under 15 minutes on 2 cores (bench/README.md).</summary>
    public static int DefaultEpochs(string method) => method switch
    {
        "darts" => 8,
        "gdas" => 30,
        "msg-das" => 15,
        "darts-pt" => 5,
        "hdas" => 8,
        _ => 10,
    };

    /// <summary>Weights-only epochs first (sampled methods need a trained supernet before their noisy alpha gradients mean anything).</summary>
    public static int DefaultWarmup(string method) => method switch { "gdas" => 10, "msg-das" => 5, _ => 0 };

    static readonly Dictionary<string, string> Descriptions = new()
    {
        ["darts"] = "DARTS: softmax mixing of every op on every edge; bilevel (alpha by Adam on the validation half, weights by SGD on the training half); --second-order for the unrolled hypergradient",
        ["gdas"] = "GDAS: Gumbel-softmax with a hard one-hot forward (only the sampled op per edge is computed), straight-through gradients to alpha, temperature annealed --tau-max -> --tau-min",
        ["msg-das"] = "MSG-DAS: Gumbel-TopK draws K mutually exclusive ops per edge per step (K = 1 is GDAS, K = all a hard DARTS), Dropblock-Identity on skip connections, optional supernet-guided distillation",
        ["darts-pt"] = "DARTS-PT: train the supernet (DARTS, or --fix-alpha with uniform alpha), then edge by edge keep the op whose removal hurts the supernet's validation accuracy most, tuning between projections (DARTS space: then the two input edges per node likewise)",
        ["hdas"] = "H-DAS: stage-specific cells (one alpha set per stage and per reduction cell); in the DARTS space then the stage-level search over fixed cells (inter-cell DAG in a sliding window, number of cells per stage with its cost term)",
    };

    /// <summary>The subcommands this file adds to `tailor search` (SearchCommands.Search(CellSearchCommands.Commands())).</summary>
    public static Command[] Commands() => CellSearchOptions.Methods.Select(Method).Append(StepBench()).ToArray();

    sealed class Common
    {
        public readonly Option<string> Space = new("--space") { Description = "Cell space: nb201 (NAS-Bench-201, scored by its table) or darts", DefaultValueFactory = _ => "nb201" };
        public readonly Option<string> Data = new("--data") { Description = $"Images: {SearchData.SpecHelp} (default: the shared CIFAR-10 subset)", DefaultValueFactory = _ => "cifar10" };
        public readonly Option<int?> Epochs = new("--epochs") { Description = "Search epochs (DARTS-PT: supernet epochs before the projections; H-DAS: cell-level epochs). Default: the method's demo setting" };
        public readonly Option<int?> Warmup = new("--warmup-epochs") { Description = "First epochs train the weights only (default: gdas 10, msg-das 5, others 0)" };
        public readonly Option<long> Seed = new("--seed") { Description = "Seed of everything (same seed, same search)", DefaultValueFactory = _ => 0 };
        public readonly Option<string> Out = new("--out") { Description = "Output folder (genotype, summary.json, CSVs, plots, checkpoint)", Required = true };
        public readonly Option<bool> Resume = new("--resume") { Description = "Continue the run whose checkpoint is in --out" };
        public readonly Option<bool> Json = Cli.JsonOption();
        public readonly Option<string?> Table = new("--table") { Description = "NAS-Bench-201 table CSV (default: ../shared/data/nas-bench-201/nb201_cifar10.csv)" };
        public readonly Option<double> LatencyLambda = new("--latency-lambda") { Description = "Latency-aware loss: alpha's loss + L * predicted latency (ms) from an MLP fitted to the table's latency column, fed softmax(alpha) (nb201)", DefaultValueFactory = _ => 0 };
        public readonly Option<string> LatencyColumn = new("--latency-column") { Description = "NAS-Bench-201 latency column reported and predicted: pixel3, fpga, eyeriss, gtx1080ti_b1, xeon_silver4114", DefaultValueFactory = _ => "pixel3" };
        public readonly Option<int> Channels = new("--channels") { Description = "C, the first stage's channels", DefaultValueFactory = _ => 8 };
        public readonly Option<int> Cells = new("--cells") { Description = "nb201: cells per stage (N)", DefaultValueFactory = _ => 1 };
        public readonly Option<int> Layers = new("--layers") { Description = "darts: cells in all (reductions at layers/3 and 2*layers/3)", DefaultValueFactory = _ => 5 };
        public readonly Option<int> Batch = new("--batch") { Description = "Batch size of both halves", DefaultValueFactory = _ => 64 };
        public readonly Option<int> TrainImages = new("--train-images") { Description = "Images in the weights' half of the split", DefaultValueFactory = _ => 2000 };
        public readonly Option<int> ValImages = new("--val-images") { Description = "Images in the architecture's half of the split", DefaultValueFactory = _ => 2000 };
        public readonly Option<int?> StepsPerEpoch = new("--steps-per-epoch") { Description = "Cap steps per epoch (default: one pass over the training half)" };
        public readonly Option<double> Lr = new("--lr") { Description = "Weights' SGD learning rate, cosine to 0.001 (NAS-Bench-201's configs: 0.025 over 20k-100k steps; the demo default 0.05 for its 150-900)", DefaultValueFactory = _ => 0.05 };
        public readonly Option<double> ArchLr = new("--arch-lr") { Description = "Alpha's Adam learning rate (DARTS: 3e-4 over ~20k alpha steps; the demo default is 10x that for its 300-900 steps)", DefaultValueFactory = _ => 3e-3 };
        public readonly Option<double> ArchWd = new("--arch-weight-decay") { Description = "Alpha's weight decay", DefaultValueFactory = _ => 1e-3 };
        public readonly Option<bool> NoAugment = new("--no-augment") { Description = "No random crop / flip" };
        public readonly Option<int> Threads = new("--threads") { Description = "libtorch threads (default: one per core; 1 is faster on a loaded machine; results can differ in the last digits between thread counts)", DefaultValueFactory = _ => Environment.ProcessorCount };

        public IEnumerable<Option> All() => new Option[] { Space, Data, Epochs, Warmup, Seed, Out, Resume, Json, Table, LatencyLambda, LatencyColumn, Channels, Cells, Layers, Batch, TrainImages, ValImages, StepsPerEpoch, Lr, ArchLr, ArchWd, NoAugment, Threads };
    }

    static Command Method(string method)
    {
        var c = new Common();
        var cmd = new Command(method, Descriptions[method]);
        foreach (var o in c.All()) cmd.Options.Add(o);
        var second = new Option<bool>("--second-order") { Description = "DARTS second order: virtual step (with the weight optimizer's momentum and weight decay) and finite-difference Hessian-vector product" };
        var tauMax = new Option<double>("--tau-max") { Description = "Gumbel temperature at the first epoch", DefaultValueFactory = _ => 10 };
        var tauMin = new Option<double>("--tau-min") { Description = "Gumbel temperature at the last epoch (linear anneal)", DefaultValueFactory = _ => 0.1 };
        var gumbelGrad = new Option<string>("--gumbel-grad")
        {
            Description = "Alpha's gradient on a sampled edge: gdas (GDAS's own estimator: the ops not sampled get the zero-valued straight-through weight too) or sampled (only the sampled ops)",
            DefaultValueFactory = _ => new CellSearchOptions().GumbelGrad,
        };
        var k = new Option<int>("--k") { Description = "Ops (mutually exclusive sub-graphs) per edge and step", DefaultValueFactory = _ => 2 };
        var dropblock = new Option<double>("--dropblock") { Description = "Dropblock-Identity: DropBlock rate on skip_connect outputs while training", DefaultValueFactory = _ => 0.1 };
        var distill = new Option<double>("--distill") { Description = "Supernet-guided distillation weight (teacher: the full softmax(alpha) supernet, no graph)", DefaultValueFactory = _ => 0 };
        var fix = new Option<bool>("--fix-alpha") { Description = "Train the supernet with alpha fixed to uniform (DARTS-PT's fix-alpha variant)" };
        var tune = new Option<int>("--pt-tune-steps") { Description = "Steps of supernet tuning between two projections", DefaultValueFactory = _ => 10 };
        var order = new Option<string>("--pt-order") { Description = "Edge order: random (seeded) or sequential", DefaultValueFactory = _ => "random" };
        var evalB = new Option<int>("--pt-eval-batches") { Description = "Validation batches per accuracy measurement (0: the whole validation half)", DefaultValueFactory = _ => 6 };
        var hStage = new Option<int>("--hdas-stage-epochs") { Description = "darts space: epochs of the stage-level search", DefaultValueFactory = _ => 2 };
        var hMax = new Option<int>("--hdas-max-cells") { Description = "darts space: most cells per stage", DefaultValueFactory = _ => 3 };
        var hWin = new Option<int>("--hdas-window") { Description = "darts space: earlier nodes a cell's first input may come from", DefaultValueFactory = _ => 2 };
        var hLam = new Option<double>("--hdas-depth-lambda") { Description = "darts space: weight of the expected-depth cost term", DefaultValueFactory = _ => 0.05 };
        switch (method)
        {
            case "darts": cmd.Options.Add(second); break;
            case "gdas": cmd.Options.Add(tauMax); cmd.Options.Add(tauMin); cmd.Options.Add(gumbelGrad); break;
            case "msg-das": cmd.Options.Add(k); cmd.Options.Add(dropblock); cmd.Options.Add(distill); cmd.Options.Add(tauMax); cmd.Options.Add(tauMin); cmd.Options.Add(gumbelGrad); break;
            case "darts-pt": cmd.Options.Add(fix); cmd.Options.Add(tune); cmd.Options.Add(order); cmd.Options.Add(evalB); cmd.Options.Add(second); break;
            case "hdas": cmd.Options.Add(hStage); cmd.Options.Add(hMax); cmd.Options.Add(hWin); cmd.Options.Add(hLam); cmd.Options.Add(second); break;
        }
        cmd.SetAction(r => Cli.Run(() =>
        {
            var o = new CellSearchOptions
            {
                Method = method, Space = r.GetValue(c.Space)!, Seed = r.GetValue(c.Seed), Epochs = r.GetValue(c.Epochs) ?? DefaultEpochs(method),
                Batch = r.GetValue(c.Batch), TrainImages = r.GetValue(c.TrainImages), ValImages = r.GetValue(c.ValImages), StepsPerEpoch = r.GetValue(c.StepsPerEpoch),
                Augment = !r.GetValue(c.NoAugment), C = r.GetValue(c.Channels), N = r.GetValue(c.Cells), Layers = r.GetValue(c.Layers),
                Lr = r.GetValue(c.Lr), ArchLr = r.GetValue(c.ArchLr), ArchWeightDecay = r.GetValue(c.ArchWd),
                LatencyLambda = r.GetValue(c.LatencyLambda), LatencyColumn = Nb201Table.LatencyName(r.GetValue(c.LatencyColumn)!),
                SecondOrder = method is "darts" or "darts-pt" or "hdas" && r.GetValue(second),
                TauMax = method is "gdas" or "msg-das" ? r.GetValue(tauMax) : 10, TauMin = method is "gdas" or "msg-das" ? r.GetValue(tauMin) : 0.1,
                GumbelGrad = method is "gdas" or "msg-das" ? r.GetValue(gumbelGrad)! : new CellSearchOptions().GumbelGrad,
                K = method == "msg-das" ? r.GetValue(k) : 2, DropBlock = method == "msg-das" ? r.GetValue(dropblock) : 0.1, Distill = method == "msg-das" ? r.GetValue(distill) : 0,
                FixAlpha = method == "darts-pt" && r.GetValue(fix), PtTuneSteps = method == "darts-pt" ? r.GetValue(tune) : 10,
                WarmupEpochs = r.GetValue(c.Warmup) ?? Math.Min(DefaultWarmup(method), (r.GetValue(c.Epochs) ?? DefaultEpochs(method)) / 3),
                PtOrder = method == "darts-pt" ? r.GetValue(order)! : "random", PtEvalBatches = method == "darts-pt" ? r.GetValue(evalB) : 6,
                HdasStageEpochs = method == "hdas" ? r.GetValue(hStage) : 2, HdasMaxCells = method == "hdas" ? r.GetValue(hMax) : 3,
                HdasWindow = method == "hdas" ? r.GetValue(hWin) : 2, HdasDepthLambda = method == "hdas" ? r.GetValue(hLam) : 0.05,
            };
            int threads = r.GetValue(c.Threads);
            OptionCheck.AtLeast("--threads", threads, 1);
            TorchSharp.torch.set_num_threads(threads);
            return RunSearch(o, r.GetValue(c.Data)!, r.GetValue(c.Table), r.GetValue(c.Out)!, r.GetValue(c.Resume), r.GetValue(c.Json));
        }));
        return cmd;
    }

    public static int RunSearch(CellSearchOptions o, string data, string? tablePath, string outDir, bool resume, bool json)
    {
        o.Validate();
        var images = SearchData.Open(data);
        CellSearch.CheckData(o, images);
        Nb201Table? table = o.Space == "nb201" ? new Nb201Table(tablePath ?? Nb201Table.DefaultPath(), o.LatencyColumn) : null;
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            using var search = new CellSearch(o, images, table, outDir, resume) { Cancel = cts.Token };
            CellSearchResult result;
            if (json || Console.IsOutputRedirected && !AnsiConsole.Profile.Capabilities.Interactive && Environment.GetEnvironmentVariable("TAILOR_PROGRESS") != "1")
            {
                if (!json) search.EpochDone = e => Console.Error.WriteLine(EpochLine(e));
                result = search.Run();
            }
            else
            {
                result = default!;
                AnsiConsole.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"{o.Method} {o.Space} seed {o.Seed}", maxValue: 1.0);
                        var sw = Stopwatch.StartNew();
                        search.Progress = p =>
                        {
                            double frac = p.Epochs > 0 ? Math.Min(1, ((p.Epoch - 1) + (double)p.Step / Math.Max(1, p.Steps)) / p.Epochs) : 0;
                            if (p.Phase == "project") frac = Math.Min(1, (double)p.Epoch / Math.Max(1, p.Epochs));
                            task.Value = frac;
                            task.Description = $"{o.Method} {o.Space} seed {o.Seed}: {p.Phase} epoch {p.Epoch}/{p.Epochs} step {p.Step}/{p.Steps}";
                        };
                        search.EpochDone = e => AnsiConsole.MarkupLine(Cli.Escape(EpochLine(e)));
                        result = search.Run();
                        task.Value = 1;
                    });
            }
            if (json) Cli.PrintJson(JsonSerializer.Deserialize<JsonElement>(File.ReadAllText(Path.Combine(outDir, "summary.json"))));
            else PrintSummary(result, outDir);
            return 0;
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    static string EpochLine(EpochRecord e)
    {
        var s = $"epoch {e.Epoch} [{e.Phase}]";
        if (e.TrainLoss is { } tl0) s += $" loss {tl0:F3} acc {e.TrainAcc:F1}%";
        if (e.ValAcc is { } va) s += $" | val acc {va:F1}%";
        if (e.Tau is { } t) s += $" | tau {t:F2}";
        if (e.SkipWeight is { } sk) s += $" | skip {sk:F3}";
        if (e.Genotype != null) s += $" | {e.Genotype}";
        if (e.TableTest is { } tt) s += $" | table valid {e.TableValid:F2} test {tt:F2}";
        if (e.TableLatency is { } tl) s += $" lat {tl:F2} ms";
        if (e.ExpectedDepth is { } ed) s += $" | E[depth] {string.Join(" ", ed.Select(x => x.ToString("F2")))} depth loss {e.DepthLoss:F4}";
        return s + $" | {e.Seconds:F0} s";
    }

    static void PrintSummary(CellSearchResult r, string outDir)
    {
        Console.WriteLine($"genotype: {r.Genotype}");
        if (r.TableTest is { } t)
            Console.WriteLine($"NAS-Bench-201 table: valid {r.TableValid:F2}  test {t:F2}  latency {r.TableLatency:F3} ms ({r.LatencyColumn})  | random cells: mean {r.RandomTestMean:F2}, median {r.RandomTestMedian:F2}");
        if (r.Magnitude is { } m) Console.WriteLine($"magnitude (argmax) cell of the same supernet: {m.Genotype}: valid {m.TableValid:F2} test {m.TableTest:F2}");
        if (r.Stability is { } st)
            Console.WriteLine($"derived cell over the {st.SearchEpochs} search epochs: {st.DistinctCells} distinct; the final one in {st.EpochsWithFinalCell}, the last {st.FinalCellStreak} in a row" +
                              (st.FinalCellStreak <= 1 && st.SearchEpochs > 2 ? " (not settled: another seed may give another cell; see epochs.csv)" : ""));
        Console.WriteLine($"network: {r.NetworkParams:N0} params, {Cli.Human(r.NetworkMacs)} MACs; search {r.SearchSeconds:F0} s; output in {outDir}");
    }

    // ------------------------------------------------------------------ step benchmark

    static Command StepBench()
    {
        var methods = new Option<string>("--methods") { Description = "Comma list of darts, gdas, msg2, msg3, ... (msgK = MSG-DAS with K ops)", DefaultValueFactory = _ => "darts,gdas,msg2,msg3" };
        var steps = new Option<int>("--steps") { Description = "Timed steps per method per round", DefaultValueFactory = _ => 10 };
        var rounds = new Option<int>("--rounds") { Description = "Interleaved rounds (the median over rounds is reported)", DefaultValueFactory = _ => 3 };
        var space = new Option<string>("--space") { DefaultValueFactory = _ => "nb201", Description = "nb201 or darts" };
        var ch = new Option<int>("--channels") { DefaultValueFactory = _ => 8, Description = "C" };
        var cells = new Option<int>("--cells") { DefaultValueFactory = _ => 1, Description = "nb201 cells per stage" };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 5, Description = "darts cells" };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 64, Description = "batch size" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount, Description = "libtorch threads" };
        var memory = new Option<bool>("--memory") { Description = "Measure the peak resident memory of the first method only (run one process per method)" };
        var json = Cli.JsonOption();
        var cmd = new Command("step-bench", "Benchmark: time per search step (weights + alpha) and peak memory of DARTS (all ops), GDAS (one op) and MSG-DAS (K ops) on the same supernet")
            { methods, steps, rounds, space, ch, cells, layers, batch, memory, threads, json };
        cmd.SetAction(r => Cli.Run(() =>
        {
            TorchSharp.torch.set_num_threads(Math.Max(1, r.GetValue(threads)));
            var res = StepBenchmark.Run(r.GetValue(methods)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), r.GetValue(space)!,
                r.GetValue(ch), r.GetValue(cells), r.GetValue(layers), r.GetValue(batch), r.GetValue(steps), r.GetValue(rounds), r.GetValue(memory));
            if (r.GetValue(json)) { Cli.PrintJson(res); return 0; }
            var t = new Table().AddColumns("method", "ops computed / step", "ms / step (median)", "IQR ms", "x DARTS", "peak RSS MiB");
            double? darts = res.FirstOrDefault(x => x.Method == "darts")?.MedianMs;
            foreach (var x in res)
                t.AddRow(x.Method, x.OpsPerForward.ToString(), x.MedianMs.ToString("F1"), x.IqrMs.ToString("F1"), darts is { } d ? (x.MedianMs / d).ToString("F2") : "", x.PeakMiB?.ToString("F0") ?? "");
            AnsiConsole.Write(t);
            return 0;
        }));
        return cmd;
    }

    // ------------------------------------------------------------------ cellnet IR

    public static Command CellNet()
    {
        var cmd = new Command("cellnet", "Cell networks (NAS-Bench-201 and DARTS genotypes): exact counts, canonical JSON");
        var arg = new Argument<string>("network") { Description = "A tailor-cellnet JSON file, a NAS-Bench-201 arch string, or a DARTS Genotype(...) string" };
        var c = new Option<int?>("--channels") { Description = "C when the argument is a genotype (nb201: 16, darts: 36)" };
        var n = new Option<int?>("--cells") { Description = "nb201 genotype: cells per stage (default 5)" };
        var layers = new Option<int?>("--layers") { Description = "darts genotype: cells in all (default 20)" };
        var json = Cli.JsonOption();
        var count = new Command("count", "Exact parameters and MACs of a cell network (and of the TorchSharp module built from it)") { arg, c, n, layers, json };
        count.SetAction(r => Cli.Run(() =>
        {
            var spec = Resolve(r.GetValue(arg)!, r.GetValue(c), r.GetValue(n), r.GetValue(layers));
            var counts = CellNetCount.Count(spec);
            long built;
            using (var _ = NewDisposeScope()) { using var m = CellNetworks.Build(spec); built = CellNetworks.ParameterCount(m); }
            if (r.GetValue(json)) Cli.PrintJson(new { name = spec.Name, space = spec.Space, @params = counts.Params, macs = counts.Macs, module_params = built });
            else Console.WriteLine($"{spec.Name} ({spec.Space}, C={spec.Channels}, cells {string.Join("/", spec.Stages.Select(s => s.Cells))}): {counts.Params:N0} params, {counts.Macs:N0} MACs ({Cli.Human(counts.Macs)}); module {built:N0} params");
            return 0;
        }));
        var arg2 = new Argument<string>("network") { Description = "A tailor-cellnet JSON file or a genotype string" };
        var outOpt = new Option<string?>("--out") { Description = "Where to write the canonical JSON (default: stdout)" };
        var write = new Command("write", "Validate a cell network or genotype and write its canonical tailor-cellnet JSON") { arg2, c, n, layers, outOpt };
        write.SetAction(r => Cli.Run(() =>
        {
            var spec = Resolve(r.GetValue(arg2)!, r.GetValue(c), r.GetValue(n), r.GetValue(layers));
            if (r.GetValue(outOpt) is { } o) CellNetJson.Save(spec, o); else Console.Out.Write(CellNetJson.Write(spec));
            return 0;
        }));
        cmd.Subcommands.Add(count);
        cmd.Subcommands.Add(write);
        return cmd;
    }

    static CellNetSpec Resolve(string s, int? c, int? n, int? layers)
    {
        if (s.StartsWith('|')) return CellNetSpec.Nb201(Nb201Cell.Parse(s), c ?? 16, n ?? 5);
        if (s.StartsWith("Genotype", StringComparison.Ordinal)) return CellNetSpec.Darts(DartsGenotype.Parse(s), c ?? 36, layers ?? 20);
        return CellNetJson.Load(s);
    }
}
