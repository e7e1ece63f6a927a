using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Hardware.Latency;
using Tailor.Hardware.Lut;
using Tailor.Search;
using Tailor.Search.SinglePath;
using Tailor.Search.Strategies;
using Tailor.Search.Trained;
using Tailor.Training;
using Tailor.Util;

namespace Tailor.Cli.Commands;

/// <summary>
/// `tailor search random-train`: the random-search baseline of Single-Path NAS under the same latency
/// constraint: architectures drawn uniformly from the latency band of the table, each trained briefly
/// from scratch, the best by validation accuracy trained like the others (<see cref="FinalStage"/>).
/// </summary>
public static class RandomTrainCommand
{
    public const string StateFile = "random-train-state.json";
    public const string CandidatesFile = "candidates.csv";
    public const int StateVersion = 1;

    /// <summary>Test hook: called with the number of evaluated candidates after each one is saved; throwing stops the run as a kill would.</summary>
    public static Action<int>? AfterCandidate { get; set; }

    public static Command Create()
    {
        var space = new Option<string>("--space") { Description = "Search space: spnas-fmnist (1x28x28), spnas-cifar (3x32x32) or spnas-imagenet (3x224x224)", DefaultValueFactory = _ => "spnas-fmnist" };
        var data = new Option<string?>("--data") { Description = $"Dataset ({Datasets.SpecHelp}); default: fashion-mnist for spnas-fmnist, cifar10 for spnas-cifar" };
        var target = new Option<string>("--target") { Description = "Latency target device: ort-cpu[:threads=N] (ONNX Runtime CPU) or torch-cpu[:threads=N]", DefaultValueFactory = _ => "ort-cpu" };
        var latency = new Option<double?>("--latency-ms") { Description = "Latency target in ms (table latency); candidates are drawn from [T*(1-band), T*(1+band)]" };
        var fraction = new Option<double?>("--latency-fraction") { Description = "Latency target as a point of the table's reachable range: min + F*(max - min), 0 < F < 1" };
        var band = new Option<double>("--band") { Description = "Relative half-width of the latency band (0.05 = +-5%, what the Single-Path controller reaches)", DefaultValueFactory = _ => 0.05 };
        var budget = new Option<int>("--budget") { Description = "Most candidates to train (exactly reproducible)", DefaultValueFactory = _ => 20 };
        var budgetSeconds = new Option<double?>("--budget-seconds") { Description = "Also stop starting candidates once the search has used this much compute: process CPU seconds / torch threads (the count then depends on the machine's speed)" };
        var evalEpochs = new Option<int>("--eval-epochs") { Description = "Epochs of each candidate's short training", DefaultValueFactory = _ => 1 };
        var bnRecal = new Option<int>("--bn-recalibrate") { Description = "Before a candidate's validation, recompute its BatchNorm statistics over this many training batches (0: off; short trainings need it)", DefaultValueFactory = _ => TrainedEvalOptions.DefaultBnRecalibration };
        var trainEpochs = new Option<int>("--train-epochs") { Description = "Epochs of the winner's final training from scratch (0 = search only)", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch") { Description = "Batch size (candidates and final training)", DefaultValueFactory = _ => 128 };
        var subset = new Option<int?>("--subset") { Description = "Use only this many training images (stratified; candidates and final training)" };
        var seed = new Option<int>("--seed") { Description = "Seed (sampling, weights, data order, splits)", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Torch threads for training (default: all cores)", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Output folder", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue an interrupted run in --out (finished candidates are not trained again; same winner as uninterrupted)" };
        var lutPath = new Option<string?>("--lut") { Description = "Use this latency table (tailor lut build) instead of measuring one into --out/lut.json" };
        var width = new Option<double>("--width") { Description = "Width multiplier of the space", DefaultValueFactory = _ => 1.0 };
        var layers = new Option<int?>("--layers-per-stage") { Description = "Searchable layers per stage (default 2 on small inputs, 4 on ImageNet)" };
        var kernels = new Option<string>("--kernels") { Description = "Candidate depthwise kernels, e.g. 3,5 or 3,5,7", DefaultValueFactory = _ => "3,5" };
        var expansions = new Option<string>("--expansions") { Description = "Candidate expansion ratios, e.g. 3,6", DefaultValueFactory = _ => "3,6" };
        var maxError = new Option<double>("--max-error") { Description = "Latency measurement: accepted relative standard error of the median (raise it on a busy machine)", DefaultValueFactory = _ => MeasureOptions.Default.MaxError };
        var settle = FinalStage.SettleOption();
        var json = Cli.JsonOption();
        var c = new Command("random-train",
            "Random search with trained evaluations, the baseline of Single-Path NAS at equal latency: samples networks whose table latency lies in the band " +
            "around the target, trains each for --eval-epochs, picks the best by validation accuracy and trains it from scratch like single-path does " +
            "(then ONNX export and measurement). Writes candidates.csv, arch.json, lut.json, train/, model.onnx and summary.json into --out.\n" +
            "Example: tailor search random-train --space spnas-fmnist --target ort-cpu --latency-fraction 0.5 --budget 20 --out runs/random")
        {
            space, data, target, latency, fraction, band, budget, budgetSeconds, evalEpochs, bnRecal, trainEpochs, batch, subset, seed, threads, output, resume, lutPath,
            width, layers, kernels, expansions, maxError, settle, json,
        };
        c.SetAction(r => Cli.Run(() =>
        {
            bool asJson = r.GetValue(json);
            var console = asJson ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }) : AnsiConsole.Console;
            int[] Ints(Option<string> o) => Cli.IntList(r.GetValue(o)!, o.Name);
            string spaceName = r.GetValue(space)!;
            var spOpts = new SpnasOptions { Width = r.GetValue(width), LayersPerStage = r.GetValue(layers), Kernels = Ints(kernels), Expansions = Ints(expansions) };
            var (sp, dataSpec, source) = SearchSetup.SpaceAndData(spaceName, spOpts, r.GetValue(data), "random-train searches");

            double bandV = r.GetValue(band);
            if (!(bandV >= 0 && bandV < 1)) throw new TailorException($"--band: expected a fraction in [0, 1) (got {bandV.ToString(CultureInfo.InvariantCulture)})");
            int nBudget = r.GetValue(budget);
            if (nBudget < 1) throw new TailorException($"--budget: expected at least 1 candidate (got {nBudget})");
            double? budgetS = r.GetValue(budgetSeconds);
            if (budgetS is double bs && !(bs > 0)) throw new TailorException($"--budget-seconds: expected > 0 (got {bs.ToString(CultureInfo.InvariantCulture)})");
            int ee = r.GetValue(evalEpochs), te = r.GetValue(trainEpochs), bsz = r.GetValue(batch), seedV = r.GetValue(seed);
            if (ee < 1) throw new TailorException($"--eval-epochs: expected >= 1 (got {ee})");
            if (te < 0) throw new TailorException($"--train-epochs: expected >= 0 (got {te})");
            if (bsz < 1) throw new TailorException($"--batch: expected >= 1 (got {bsz})");
            if (r.GetValue(subset) is int sk && sk < 1) throw new TailorException($"--subset: expected >= 1 images (got {sk})");
            double? targetMs = r.GetValue(latency);
            if (targetMs is double lt) OptionCheck.Positive("--latency-ms", lt);
            if (r.GetValue(fraction) is double f0)
            {
                if (targetMs != null) throw new TailorException("--latency-fraction excludes --latency-ms");
                if (!(f0 > 0 && f0 < 1)) throw new TailorException($"--latency-fraction must be in (0, 1) (got {f0})");
            }
            else if (targetMs == null) throw new TailorException("a latency target is needed: give --latency-ms MS or --latency-fraction F");
            var tgt = LatencyTargets.Parse(r.GetValue(target)!);
            var measure = MeasureOptions.Default with { MaxError = r.GetValue(maxError) };
            measure.Validate();
            string outDir = Path.GetFullPath(r.GetValue(output)!);
            bool resuming = r.GetValue(resume);
            PrepareOut(outDir, resuming);
            int nThreads = r.GetValue(threads) > 0 ? r.GetValue(threads) : Environment.ProcessorCount;
            TorchSharp.torch.set_num_threads(nThreads);

            // 1. latency table on the target (as single-path)
            var lut = SearchSetup.LoadOrBuildLut(console, r.GetValue(lutPath), outDir, sp, tgt, measure);
            var table = new LayerLatencies(sp, lut.FixedMs, lut.Entry);
            var (lo, hi) = table.Range();
            if (r.GetValue(fraction) is double f) targetMs = lo + f * (hi - lo);
            var lspace = new LayeredSearchSpace(sp, table, targetMs, bandV); // checks the target against the reachable range

            // 2. the data every candidate trains on (the final training's subset and train split)
            int? subsetV = r.GetValue(subset);
            var full = subsetV is int k ? Splits.Subset(source.Train, k, seedV) : source.Train;
            var (trainSet, valSet) = Splits.TrainVal(full, ValSplit.Parse("0.1"), seedV);
            long stepsPerCandidate = (long)(trainSet.Count / bsz) * ee;
            if (stepsPerCandidate == 0) throw new TailorException($"--batch {bsz}: larger than the {trainSet.Count} training images of the split; lower --batch or raise --subset");
            var evaluator = new TrainedEvaluator(lspace, new TrainedEvalOptions { Data = dataSpec, Subset = subsetV, Epochs = ee, BatchSize = bsz, Seed = seedV, Threads = nThreads, BnRecalibration = r.GetValue(bnRecal) }, outDir);
            var problem = new SearchProblem(new[] { Objective.Max(Metrics.ValidName) }, new[] { new Constraint(Metrics.LatencyName, lspace.Hi) });
            var run = new SearchRun<int[]>(lspace, evaluator, problem, new RandomSearch<int[]>((ulong)seedV), new Budget(nBudget, budgetS));
            var fingerprint = new JsonObject
            {
                ["space"] = spaceName, ["space_config"] = JsonSerializer.SerializeToNode(sp.Config), ["data"] = dataSpec, ["subset"] = subsetV,
                ["seed"] = seedV, ["batch"] = bsz, ["eval_epochs"] = ee, ["bn_recalibrate"] = r.GetValue(bnRecal), ["target"] = tgt.Spec, ["target_ms"] = targetMs, ["band"] = bandV,
            };
            string statePath = Path.Combine(outDir, StateFile);
            if (resuming && File.Exists(statePath)) LoadState(statePath, run, fingerprint);
            // the search's time, derived from the candidates (a candidate cut off by a kill is not counted):
            // Cost is compute seconds, so the budget's MaxCost is --budget-seconds (SearchContext.Exhausted)
            double SearchSeconds() => run.Context.History.Sum(e => e.Metrics.Get(TrainedEvaluator.WallSecondsName));
            double SearchCpu() => run.Context.History.Sum(e => e.Metrics.Get(TrainedEvaluator.CpuSecondsName));
            console.MarkupLine($"[bold]random search[/] {spaceName}: {sp.LayerCount} searchable layers, {sp.Size:G3} networks; table range {lo:F3} .. {hi:F3} ms; " +
                               $"target {targetMs:F3} ms, band {lspace.Lo:F3} .. {lspace.Hi:F3} ms; budget {nBudget} candidates" +
                               (budgetS is double b1 ? $" or {b1:F0} compute s" : "") + $"; {trainSet.Count:N0} train / {valSet?.Count ?? 0:N0} val images, {ee} epoch(s) x {stepsPerCandidate / ee} steps each" +
                               (run.Context.Queries > 0 ? $"; resuming after {run.Context.Queries} candidates" : ""));

            // 3. search: one candidate per step, state saved after each
            string stoppedBy = "budget";
            SinglePathCommand.WithProgress(console, "random search", nBudget * stepsPerCandidate, (report, setTotal) =>
            {
                int done = run.Context.Queries;
                if (done > 0) report(done * stepsPerCandidate, $"{done}/{nBudget} done (resumed)");
                evaluator.StepEnd = p => report(done * stepsPerCandidate + p.Step,
                    $"candidate {done + 1}/{nBudget}  loss {p.RunningLoss:F3}" + (TrainedEvaluator.Winner(run.Context) is { } b ? $"  best val {100 * b.Metrics.Valid:F1}%" : ""));
                while (!run.Done)
                {
                    run.Step();
                    done = run.Context.Queries;
                    // with a compute budget the end is where the compute runs out: estimate the candidates
                    // still to start from the mean so far (random search stops *starting* at the limit)
                    if (budgetS is double lim && done > 0)
                    {
                        double per = run.Context.Cost / done, left = lim - run.Context.Cost;
                        int more = left > 0 ? (int)Math.Ceiling(left / Math.Max(1e-9, per)) : 0;
                        setTotal((long)Math.Min(nBudget, done + more) * stepsPerCandidate);
                    }
                    SaveState(statePath, run, fingerprint);
                    WriteCandidates(Path.Combine(outDir, CandidatesFile), run, lspace);
                    report(done * stepsPerCandidate, $"{done}/{nBudget} done  best val {100 * TrainedEvaluator.Winner(run.Context)!.Metrics.Valid:F1}%");
                    AfterCandidate?.Invoke(done);
                }
                return 0;
            });
            if (budgetS is double spent && run.Context.Cost >= spent && run.Context.Queries < nBudget) stoppedBy = "budget-seconds";
            else if (run.Context.Queries < nBudget) stoppedBy = "band exhausted";
            WriteCandidates(Path.Combine(outDir, CandidatesFile), run, lspace);
            var best = TrainedEvaluator.Winner(run.Context) ?? throw new TailorException("random search: no candidate was evaluated (--budget-seconds already spent)");
            var arch = sp.Build(best.Arch, $"{spaceName}-random-seed{seedV}");
            ArchJson.Save(arch, Path.Combine(outDir, "arch.json"));
            var names = lspace.Names(best.Arch);
            double predicted = best.Metrics.Latency;

            // 4-5. the same final stage as single-path
            var final = FinalStage.Run(console, outDir, arch, dataSpec, subsetV, nThreads, te, bsz, seedV, resuming, tgt, measure, r.GetValue(settle));
            var (trained, measured, an, _) = final;
            var cands = new JsonArray(run.Context.History.Select(e => (JsonNode)new JsonObject
            {
                ["index"] = e.Index, ["key"] = e.Key, ["arch"] = string.Join(" ", lspace.Names(e.Arch)), ["lut_ms"] = e.Metrics.Latency,
                ["val_acc"] = e.Metrics.Valid, ["val_loss"] = SearchRun<int[]>.Num(e.Metrics.Get(TrainedEvaluator.ValLossName)), ["seconds"] = e.Metrics.Get(TrainedEvaluator.WallSecondsName), ["cpu_seconds"] = e.Metrics.Get(TrainedEvaluator.CpuSecondsName),
            }).ToArray());
            var summary = new JsonObject
            {
                ["arch"] = string.Join(" ", names),
                ["key"] = best.Key,
                ["target_ms"] = targetMs,
                ["band"] = bandV,
                ["predicted_ms"] = predicted,
                ["lut_error"] = predicted / targetMs!.Value - 1,
                ["measured_error"] = measured.MedianMs / targetMs.Value - 1,
                ["test_acc"] = trained?.TestAcc,
                ["val_acc"] = trained?.BestValAcc,
                ["search_val_acc"] = best.Metrics.Valid,
                ["params"] = an.Params,
                ["macs"] = an.Macs,
                ["search_seconds"] = SearchSeconds(),
                ["search_cpu_seconds"] = SearchCpu(),
                ["search_compute_seconds"] = run.Context.Cost,
                ["train_seconds"] = trained?.TrainSeconds,
                ["evaluated"] = run.Context.Queries,
                ["budget"] = nBudget,
                ["budget_seconds"] = budgetS,
                ["stopped_by"] = stoppedBy,
                ["candidates"] = cands,
                ["space"] = spaceName, ["space_config"] = JsonSerializer.SerializeToNode(sp.Config),
                ["data"] = dataSpec, ["target"] = tgt.Spec, ["runtime"] = tgt.Runtime, ["threads"] = nThreads, ["seed"] = seedV,
                ["config"] = new JsonObject
                {
                    ["band"] = bandV, ["budget"] = nBudget, ["budget_seconds"] = budgetS, ["eval_epochs"] = ee, ["bn_recalibrate"] = r.GetValue(bnRecal), ["train_epochs"] = te, ["batch_size"] = bsz,
                    ["subset"] = subsetV, ["seed"] = seedV, ["target_ms"] = targetMs, ["optimizer"] = "sgd", ["lr"] = 0.05 * bsz / 128.0, ["schedule"] = "cosine", ["val_split"] = "0.1",
                    ["strategy"] = "random", ["lut"] = SearchSetup.LutFile(r.GetValue(lutPath), outDir),
                },
                ["versions"] = TrainingRun.Versions(), ["machine"] = MachineInfo.Current.ToString(), ["device"] = "cpu",
            };
            final.InsertMeasured(summary, "predicted_ms");
            AtomicFile.WriteAllText(Path.Combine(outDir, "summary.json"), summary.ToJsonString(Cli.JsonOptions) + "\n");
            if (asJson) { Console.Out.WriteLine(summary.ToJsonString(Cli.JsonOptions)); return 0; }
            var t = new Table().Title("Random search (trained evaluations)").AddColumns("", "");
            t.AddRow("architecture", Cli.Escape(string.Join(" ", names)));
            t.AddRow("latency (table)", $"{predicted:F3} ms  (target {targetMs:F3} ms, {100 * (predicted / targetMs.Value - 1):+0.0;-0.0}%, band +-{100 * bandV:G3}%)");
            t.AddRow("latency (measured)", $"{measured.MedianMs:F3} ms (IQR {measured.IqrMs:F3}) on {Cli.Escape(tgt.Spec)}  ({100 * (measured.MedianMs / targetMs.Value - 1):+0.0;-0.0}%)");
            t.AddRow("candidates", $"{run.Context.Queries} of budget {nBudget} ({stoppedBy}), {ee} epoch(s) each; winner val {100 * best.Metrics.Valid:F2}%");
            t.AddRow("test accuracy", trained?.TestAcc is double ta ? $"{100 * ta:F2}% after {te} epochs from scratch" : "-");
            t.AddRow("params / MACs", $"{an.Params:N0} / {Cli.Human(an.Macs)}");
            t.AddRow("search / train", $"{SearchSeconds():F0} s ({SearchCpu():F0} CPU s) / {trained?.TrainSeconds ?? 0:F0} s");
            t.AddRow("output", Cli.Escape(outDir));
            console.Write(t);
            return 0;
        }));
        return c;
    }

    static void PrepareOut(string outDir, bool resuming)
    {
        if (File.Exists(outDir)) throw new TailorException($"--out {outDir}: exists and is not a directory");
        try { Directory.CreateDirectory(outDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new TailorException($"--out {outDir}: cannot create the directory ({e.Message.Split('\n')[0].Trim()})"); }
        if (!resuming && File.Exists(Path.Combine(outDir, StateFile)))
            throw new TailorException($"--out {outDir}: holds an earlier random search; continue it with --resume or choose another folder");
        string probe = Path.Combine(outDir, $".probe-{Environment.ProcessId}");
        try { File.WriteAllText(probe, ""); File.Delete(probe); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new TailorException($"--out {outDir}: not writable ({e.Message.Split('\n')[0].Trim()})"); }
    }

    static void SaveState(string path, SearchRun<int[]> run, JsonObject fingerprint)
    {
        var o = new JsonObject
        {
            ["format"] = "tailor-random-train", ["version"] = StateVersion, ["config"] = fingerprint.DeepClone(),
            ["search"] = run.Save(),
        };
        AtomicFile.WriteAllText(path, o.ToJsonString() + "\n");
    }

    static void LoadState(string path, SearchRun<int[]> run, JsonObject fingerprint)
    {
        JsonObject o;
        try { o = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not an object"); }
        catch (JsonException e) { throw new TailorException($"{path}: corrupt state ({ErrorText.Json(e)}); delete it to start the search again"); }
        if ((string?)o["format"] != "tailor-random-train" || (int?)o["version"] != StateVersion)
            throw new TailorException($"{path}: not a random-train state of version {StateVersion}");
        if (o["config"] is not JsonObject had) throw new TailorException($"{path}: state without its configuration");
        foreach (var (key, value) in fingerprint)
            if (!JsonNode.DeepEquals(had[key], value))
                throw new TailorException($"--resume: the run in this folder used {key} {had[key]?.ToJsonString() ?? "null"}, not {value?.ToJsonString() ?? "null"}; pass the same options or choose another --out");
        if (o["search"] is not JsonObject s) throw new TailorException($"{path}: state without the search");
        run.Load(s, path);
    }

    static void WriteCandidates(string path, SearchRun<int[]> run, LayeredSearchSpace space)
    {
        var sb = new StringBuilder("index,key,names,lut_ms,val_acc,seconds,cpu_seconds,val_loss\n");
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        foreach (var e in run.Context.History)
            sb.Append(CultureInfo.InvariantCulture, $"{e.Index},{e.Key},{string.Join(" ", space.Names(e.Arch))},{F(e.Metrics.Latency)},{F(e.Metrics.Valid)},{F(e.Metrics.Get(TrainedEvaluator.WallSecondsName))},{F(e.Metrics.Get(TrainedEvaluator.CpuSecondsName))},{F(e.Metrics.Get(TrainedEvaluator.ValLossName))}\n");
        AtomicFile.WriteAllText(path, sb.ToString());
    }
}
