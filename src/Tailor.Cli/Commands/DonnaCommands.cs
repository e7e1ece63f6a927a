using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Hardware.Latency;
using Tailor.Search.Donna;
using Tailor.Training;
using Tailor.Util;

namespace Tailor.Cli.Commands;

/// <summary>
/// DONNA (methods.md §2): `tailor search donna` runs the whole pipeline; `tailor donna bkd|status|finetune`
/// work on an experiment's jobs (several `donna bkd` processes can share one queue).
/// </summary>
public static class DonnaCommands
{
    /// <summary>Progress bars per stage on a terminal, one line per stage step (deciles) otherwise.</summary>
    sealed class ProgressView
    {
        readonly IAnsiConsole _console;
        readonly Dictionary<string, ProgressTask> _tasks = new();
        readonly Dictionary<string, long> _lastDecile = new();
        ProgressContext? _ctx;

        public ProgressView(IAnsiConsole console) => _console = console;

        public T Run<T>(Func<DonnaProgress, T> body)
        {
            if (!_console.Profile.Capabilities.Interactive) return body(Line);
            T result = default!;
            _console.Progress().AutoClear(false).HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx => { _ctx = ctx; result = body(Bar); });
            return result;
        }

        void Bar(string stage, long done, long total, string detail)
        {
            if (!_tasks.TryGetValue(stage, out var t)) _tasks[stage] = t = _ctx!.AddTask(stage, maxValue: Math.Max(1, total));
            t.MaxValue = Math.Max(1, total);
            t.Value = Math.Min(done, total);
            t.Description = $"{stage,-9} {Cli.Escape(detail.Length > 60 ? detail[..60] : detail)}";
        }

        void Line(string stage, long done, long total, string detail)
        {
            long d = total > 0 ? done * 10 / total : 0;
            if (_lastDecile.TryGetValue(stage, out long last) && last == d) return;
            _lastDecile[stage] = d;
            _console.WriteLine($"{stage} {done}/{total} {detail}");
        }
    }

    static IAnsiConsole ConsoleFor(bool json) => json ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }) : AnsiConsole.Console;

    static void SetThreads(int threads) => TorchSharp.torch.set_num_threads(threads > 0 ? threads : Environment.ProcessorCount);

    static string F(double v, string fmt = "F3") => v.ToString(fmt, CultureInfo.InvariantCulture);

    static readonly DonnaConfig Defaults = new();

    /// <summary>`tailor search donna`: the whole pipeline.</summary>
    public static Command SearchDonna()
    {
        var data = new Option<string>("--data") { Description = $"Dataset ({Datasets.SpecHelp})", DefaultValueFactory = _ => Defaults.Data };
        var subset = new Option<int?>("--subset") { Description = "Use only this many training images (stratified, by seed); 0: all", DefaultValueFactory = _ => 4000 };
        var valSplit = new Option<string>("--val-split") { Description = "Held-out share of the training images (block NSR, library accuracy)", DefaultValueFactory = _ => Defaults.ValSplit };
        var seed = new Option<int>("--seed") { Description = "Seed of the experiment (splits, teacher, BKD, library)", DefaultValueFactory = _ => 0 };
        var teacher = new Option<string>("--teacher") { Description = "Reference network (zoo:NAME or an architecture JSON), trained with tailor train's code", DefaultValueFactory = _ => Defaults.Teacher };
        var teacherWidth = new Option<double>("--teacher-width") { Description = "Width multiplier of the reference network", DefaultValueFactory = _ => Defaults.TeacherWidth };
        var teacherEpochs = new Option<int>("--teacher-epochs") { Description = "Epochs of the teacher's training", DefaultValueFactory = _ => Defaults.TeacherEpochs };
        var teacherRun = new Option<string?>("--teacher-run") { Description = "Use a finished `tailor train` run (its arch.json and weights.bin) as the teacher" };
        var cuts = new Option<string?>("--cuts") { Description = "Block boundaries as reference-block indices, e.g. 0,3,6,13,17 (default: cut at every stride-2 block)" };
        var skipFirst = new Option<int>("--skip-first") { Description = "Without --cuts: reference blocks kept fixed before the first DONNA block", DefaultValueFactory = _ => Defaults.SkipFirst };
        var teacherLr = new Option<double>("--teacher-lr") { Description = "SGD learning rate of the teacher (cosine, half an epoch of warm-up)", DefaultValueFactory = _ => Defaults.TeacherLr };
        var grid = new Option<string?>("--grid") { Description = "Candidate grid per block, e.g. \"kernels=3,5,7;expansions=2,3,4,6;depths=1,2,3,4;se=0,1;acts=relu,swish;widths=0.5,0.75,1\" (default: small, 16 per block)" };
        var bkdImages = new Option<int>("--bkd-images") { Description = "Training images of blockwise distillation", DefaultValueFactory = _ => Defaults.BkdImages };
        var bkdVal = new Option<int>("--bkd-val-images") { Description = "Held-out images on which each candidate block's NSR (its quality, the predictor's feature) is measured", DefaultValueFactory = _ => Defaults.BkdValImages };
        var bkdEpochs = new Option<int>("--bkd-epochs") { Description = "Epochs of blockwise distillation", DefaultValueFactory = _ => Defaults.BkdEpochs };
        var bkdLr = new Option<double>("--bkd-lr") { Description = "Adam learning rate of blockwise distillation", DefaultValueFactory = _ => Defaults.BkdLr };
        var libSize = new Option<int>("--library-size") { Description = "Architectures finetuned for the accuracy predictor", DefaultValueFactory = _ => Defaults.LibrarySize };
        var libEpochs = new Option<int>("--library-epochs") { Description = "Epochs of each library finetune", DefaultValueFactory = _ => Defaults.LibraryEpochs };
        var libSeeds = new Option<int>("--library-seeds") { Description = "Finetunes per library architecture, each with its own seed; the predictor fits their mean accuracy", DefaultValueFactory = _ => Defaults.LibrarySeeds };
        var bnRecal = new Option<int>("--bn-recalibrate") { Description = "Recompute BatchNorm statistics over this many training batches before every library and finetune evaluation (0: off)", DefaultValueFactory = _ => Defaults.BnRecalibration };
        var libImages = new Option<int>("--library-images") { Description = "Training images of each library finetune (0: the whole training split)", DefaultValueFactory = _ => Defaults.LibraryImages ?? 0 };
        var target = new Option<string>("--target") { Description = "Latency target device: ort-cpu[:threads=N] or torch-cpu[:threads=N]", DefaultValueFactory = _ => "ort-cpu" };
        var latency = new Option<double?>("--latency-ms") { Description = "Latency limit in ms (constraint of the search)" };
        var population = new Option<int>("--population") { Description = "NSGA-II population", DefaultValueFactory = _ => 16 };
        var generations = new Option<int>("--generations") { Description = "NSGA-II generations (population x generations architectures at most)", DefaultValueFactory = _ => 8 };
        var finalCount = new Option<int>("--final-count") { Description = "Pareto architectures finetuned from BKD weights at the end (0: none)", DefaultValueFactory = _ => 2 };
        var finalEpochs = new Option<int>("--final-epochs") { Description = "Epochs of the final finetunes (distillation from the teacher)", DefaultValueFactory = _ => 2 };
        var finalLr = new Option<double?>("--final-lr") { Description = "SGD learning rate of the final finetunes (default: the library's, 0.02)" };
        var finalKd = new Option<double?>("--final-kd-alpha") { Description = "Weight of the teacher's soft targets in the final finetunes' loss, the rest cross-entropy (default: 0.8); lower it when the networks outgrow the teacher" };
        var maxError = new Option<double>("--max-error") { Description = "Latency measurement: accepted relative standard error of the median", DefaultValueFactory = _ => 0.03 };
        var threads = new Option<int>("--threads") { Description = "Torch threads (default: all cores)", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Experiment folder (created, or resumed when it holds the same experiment)", Required = true };
        var json = Cli.JsonOption();
        var c = new Command("donna",
            "DONNA (Moons et al. 2021): a trained reference network cut into blocks at its stride boundaries; every candidate block distilled " +
            "alone to the teacher's block output (NSR loss); an architecture library finetuned from BKD weights; a ridge accuracy predictor on " +
            "block NSRs (leave-one-out Kendall tau and MSE); NSGA-II over predicted accuracy and latency measured on --target; the chosen " +
            "Pareto networks finetuned from BKD weights. Every step is a job in --out/experiment.db: rerunning resumes, finished jobs are never redone.\n" +
            "Example: tailor search donna --data cifar10:../shared/data/cifar-10-subset --target ort-cpu --latency-ms 0.15 --out runs/donna")
        {
            data, subset, valSplit, seed, teacher, teacherWidth, teacherEpochs, teacherRun, teacherLr, cuts, skipFirst, grid, bkdImages, bkdVal, bkdEpochs, bkdLr, libSize, libEpochs, libSeeds, libImages, bnRecal,
            target, latency, population, generations, finalCount, finalEpochs, finalLr, finalKd, maxError, threads, output, json,
        };
        c.SetAction(r => Cli.Run(() =>
        {
            bool asJson = r.GetValue(json);
            var console = ConsoleFor(asJson);
            var cfg = new DonnaConfig
            {
                Data = r.GetValue(data)!, Subset = r.GetValue(subset) is int sub && sub > 0 ? sub : null, ValSplit = r.GetValue(valSplit)!, Seed = r.GetValue(seed),
                Teacher = r.GetValue(teacher)!, TeacherWidth = r.GetValue(teacherWidth), TeacherEpochs = r.GetValue(teacherEpochs), TeacherRun = r.GetValue(teacherRun),
                TeacherLr = r.GetValue(teacherLr), SkipFirst = r.GetValue(skipFirst), Cuts = r.GetValue(cuts), Grid = r.GetValue(grid), BkdImages = r.GetValue(bkdImages), BkdValImages = r.GetValue(bkdVal), BkdEpochs = r.GetValue(bkdEpochs), BkdLr = r.GetValue(bkdLr),
                LibrarySize = r.GetValue(libSize), LibraryEpochs = r.GetValue(libEpochs), LibrarySeeds = r.GetValue(libSeeds), LibraryImages = r.GetValue(libImages) is int lim && lim != 0 ? lim : null, BnRecalibration = r.GetValue(bnRecal),
            };
            var tgt = LatencyTargets.Parse(r.GetValue(target)!);
            if (r.GetValue(latency) is double lt) OptionCheck.Positive("--latency-ms", lt);
            var so = new DonnaSearchOptions { Population = r.GetValue(population), Generations = r.GetValue(generations), LatencyMs = r.GetValue(latency), Seed = r.GetValue(seed) };
            if (so.Population < 2) throw new TailorException($"--population: expected >= 2 (got {so.Population})");
            if (so.Generations < 1) throw new TailorException($"--generations: expected >= 1 (got {so.Generations})");
            int fc = r.GetValue(finalCount), fe = r.GetValue(finalEpochs);
            if (fc < 0) throw new TailorException($"--final-count: expected >= 0 (got {fc})");
            if (fe < 1) throw new TailorException($"--final-epochs: expected >= 1 (got {fe})");
            double? fLr = r.GetValue(finalLr), fKd = r.GetValue(finalKd);
            DonnaExperiment.FinetuneSpec.ValidateOverrides(fLr, fKd, scratch: false, prefix: "final-");
            var measure = MeasureOptions.Default with { MaxError = r.GetValue(maxError) };
            measure.Validate();
            int nThreads = r.GetValue(threads) > 0 ? r.GetValue(threads) : Environment.ProcessorCount;
            SetThreads(nThreads);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using var exp = DonnaExperiment.Open(r.GetValue(output)!, cfg);
            exp.Threads = nThreads;
            console.MarkupLine($"[bold]DONNA[/] experiment {Cli.Escape(exp.Dir)}: teacher {Cli.Escape(exp.TeacherArch.Name)}, {exp.Space.BlockCount} blocks x {exp.Space.Options.Count} candidates, " +
                               $"{exp.Data.Train.Count:N0} train / {exp.Data.Val.Count:N0} val images, target {Cli.Escape(tgt.Spec)}");
            var view = new ProgressView(console);
            var (pred, search, finals) = view.Run(progress =>
            {
                exp.Progress = progress;
                exp.Teacher();
                exp.Features();
                exp.RunBkd();
                exp.RunLibrary();
                var p = exp.Predictor();
                var s = exp.Search(tgt, so, measure, p);
                var fin = DonnaExperiment.Pick(s.Front, fc).Select(pt => (pt, exp.Finetune(new DonnaExperiment.FinetuneSpec(pt.Key, fe, cfg.Seed, false, fLr, fKd), tgt, measure))).ToList();
                return (p, s, fin);
            });
            var teacherJob = exp.Store.Get("teacher")!;
            var bkdJobs = exp.Store.Jobs("bkd");
            var summary = new JsonObject
            {
                ["experiment"] = exp.Dir, ["data"] = cfg.Data, ["target"] = tgt.Spec, ["latency_ms"] = so.LatencyMs,
                ["teacher"] = new JsonObject { ["arch"] = exp.TeacherArch.Name, ["test_acc"] = teacherJob.Result?["test_acc"]?.DeepClone(), ["val_acc"] = teacherJob.Result?["val_acc"]?.DeepClone() },
                ["blocks"] = exp.Space.BlockCount, ["candidates"] = exp.Space.Options.Count, ["bkd_jobs"] = bkdJobs.Count,
                ["bkd_seconds"] = bkdJobs.Sum(j => j.Seconds ?? 0),
                ["library"] = pred.Keys.Count,
                ["predictor"] = new JsonObject { ["loo_kendall_tau"] = pred.Loo.KendallTau, ["loo_mse"] = pred.Loo.Mse, ["lambda"] = cfg.RidgeLambda, ["noise_ceiling_tau"] = pred.NoiseCeilingTau, ["warning"] = pred.Warning },
                ["search"] = new JsonObject
                {
                    ["folder"] = Path.Combine(exp.Dir, "search", search.Folder), ["evaluated"] = search.Evaluated, ["measured_now"] = search.Measured,
                    ["reachable_ms"] = new JsonArray(search.LoMs, search.HiMs), ["hypervolume"] = search.Hypervolume,
                    ["hv_ref"] = new JsonObject { ["acc"] = search.RefAcc, ["ms"] = search.RefMs }, ["front_size"] = search.Front.Count,
                },
                ["final"] = new JsonArray(finals.Select(f => (JsonNode)new JsonObject
                {
                    ["key"] = f.pt.Key, ["blocks"] = string.Join(" ", f.pt.Blocks), ["predicted_acc"] = f.pt.PredictedAcc, ["latency_ms"] = f.pt.LatencyMs,
                    ["epochs"] = fe, ["lr"] = f.Item2.Result?["lr"]?.DeepClone(), ["kd_alpha"] = f.Item2.Result?["kd_alpha"]?.DeepClone(),
                    ["val_acc"] = f.Item2.Result?["val_acc"]?.DeepClone(), ["test_acc"] = f.Item2.Result?["test_acc"]?.DeepClone(), ["status"] = f.Item2.Status.ToString().ToLowerInvariant(),
                    ["error"] = f.Item2.Error, ["params"] = f.pt.Params, ["macs"] = f.pt.Macs,
                    ["onnx"] = InExperiment(exp, f.Item2.Result?["onnx"]), ["weights"] = InExperiment(exp, f.Item2.Result?["weights"]),
                }).ToArray()),
                ["seconds_this_run"] = sw.Elapsed.TotalSeconds,
                ["seconds_total_jobs"] = exp.Store.Jobs().Sum(j => j.Seconds ?? 0),
                ["threads"] = nThreads, ["seed"] = cfg.Seed, ["versions"] = TrainingRun.Versions(), ["machine"] = MachineInfo.Current.ToString(),
            };
            AtomicFile.WriteAllText(Path.Combine(exp.Dir, "summary.json"), summary.ToJsonString(DonnaConfig.Indented) + "\n");
            if (pred.Warning != null) console.MarkupLine($"[yellow]warning:[/] {Cli.Escape(pred.Warning)}");
            if (asJson) { Console.Out.WriteLine(summary.ToJsonString(DonnaConfig.Indented)); return 0; }
            var t = new Table().Title("DONNA").AddColumns("architecture (per block)", "predicted acc", "latency (ms)", $"val acc", "test acc", "MACs");
            foreach (var (pt, job) in finals)
                t.AddRow(Cli.Escape(string.Join(" ", pt.Blocks)), $"{100 * pt.PredictedAcc:F2}%", F(pt.LatencyMs),
                    job.Result?["val_acc"] is JsonNode va ? $"{100 * (double)va:F2}%" : "-", job.Result?["test_acc"] is JsonNode ta ? $"{100 * (double)ta:F2}%" : Cli.Escape(job.Error ?? "-"), Cli.Human(pt.Macs));
            console.Write(t);
            console.MarkupLine($"teacher test acc {(teacherJob.Result?["test_acc"] is JsonNode tt ? $"{100 * (double)tt:F2}%" : "-")}; predictor (leave-one-out over {pred.Keys.Count}): Kendall tau {F(pred.Loo.KendallTau)} (validation-noise ceiling {F(pred.NoiseCeilingTau, "F2")}), MSE {pred.Loo.Mse:E2}; " +
                               $"front {search.Front.Count} points, hypervolume {search.Hypervolume:G4}; reachable {F(search.LoMs)} .. {F(search.HiMs)} ms");
            console.MarkupLine($"outputs: {Cli.Escape(Path.Combine(exp.Dir, "search", search.Folder))}/pareto.{{json,png}}, {Cli.Escape(exp.Dir)}/predictor.json, summary.json");
            foreach (var (pt, job) in finals)
                if (InExperiment(exp, job.Result?["onnx"]) is string onnx)
                    console.MarkupLine($"  {Cli.Escape(pt.Key)}: {Cli.Escape(onnx)} (weights: {Cli.Escape(InExperiment(exp, job.Result?["weights"]) ?? "-")})");
            return 0;
        }));
        return c;
    }

    /// <summary>A file a job recorded relative to its experiment folder, as a path from here (null when the job has none, e.g. one finished before files were kept).</summary>
    static string? InExperiment(DonnaExperiment exp, JsonNode? relative) => relative is null ? null : Path.Combine(exp.Dir, (string)relative!);

    static Option<string> ExperimentOption() => new("--experiment") { Description = "Experiment folder (made by tailor search donna)", Required = true };

    /// <summary>`tailor donna ...`: work on an experiment's jobs.</summary>
    public static Command Donna()
    {
        var cmd = new Command("donna", "Work on a DONNA experiment's jobs: run BKD jobs (several processes may share the queue), show the status, finetune architectures, export one as an architecture JSON.");
        cmd.Subcommands.Add(Bkd());
        cmd.Subcommands.Add(Status());
        cmd.Subcommands.Add(Finetune());
        cmd.Subcommands.Add(Export());
        return cmd;
    }

    static Command Bkd()
    {
        var exp = ExperimentOption();
        var block = new Option<int?>("--block") { Description = "Only this block" };
        var cand = new Option<int?>("--candidate") { Description = "Only this candidate (index into the block grid)" };
        var retry = new Option<bool>("--retry-failed") { Description = "Also rerun jobs that failed" };
        var threads = new Option<int>("--threads") { Description = "Torch threads (default: all cores)", DefaultValueFactory = _ => 0 };
        var json = Cli.JsonOption();
        var c = new Command("bkd", "Blockwise knowledge distillation jobs: trains the claimable (pending, killed, or with --retry-failed failed) (block, candidate) jobs of the experiment.\n" +
                                   "Example: tailor donna bkd --experiment runs/donna --block 1 --candidate 3") { exp, block, cand, retry, threads, json };
        c.SetAction(r => Cli.Run(() =>
        {
            bool asJson = r.GetValue(json);
            var console = ConsoleFor(asJson);
            SetThreads(r.GetValue(threads));
            using var e = DonnaExperiment.Open(r.GetValue(exp)!, null);
            e.Threads = r.GetValue(threads) > 0 ? r.GetValue(threads) : Environment.ProcessorCount;
            var ran = new ProgressView(console).Run(p => { e.Progress = p; return e.RunBkd(r.GetValue(block), r.GetValue(cand), r.GetValue(retry)); });
            var sel = e.Store.Jobs("bkd").Where(j => (r.GetValue(block) is not int b || j.Block == b) && (r.GetValue(cand) is not int m || j.Candidate == m)).ToList();
            if (asJson)
            {
                Console.Out.WriteLine(new JsonObject
                {
                    ["ran"] = ran.Count,
                    ["jobs"] = new JsonArray(sel.Select(j => (JsonNode)new JsonObject
                    {
                        ["block"] = j.Block, ["candidate"] = j.Candidate, ["name"] = e.Space.Options[j.Candidate!.Value].Name, ["status"] = j.Status.ToString().ToLowerInvariant(),
                        ["nsr"] = j.Result?["nsr"]?.DeepClone(), ["error"] = j.Error, ["seconds"] = j.Seconds,
                    }).ToArray()),
                }.ToJsonString(DonnaConfig.Indented));
            }
            else
            {
                var t = new Table().AddColumns("block", "candidate", "name", "status", "held-out NSR", "seconds");
                foreach (var j in sel)
                    t.AddRow($"{j.Block}", $"{j.Candidate}", e.Space.Options[j.Candidate!.Value].Name, j.Status.ToString().ToLowerInvariant() + (ran.Any(x => x.Key == j.Key) ? " (now)" : ""),
                        j.Result?["nsr"] is JsonNode ns ? F((double)ns, "F4") : Cli.Escape(j.Error ?? "-"), j.Seconds is double s ? F(s, "F1") : "-");
                console.Write(t);
            }
            var failed = sel.Where(j => j.Status == JobStatus.Failed).ToList();
            if (failed.Count > 0)
                throw new TailorException($"{failed.Count} BKD jobs failed: {string.Join(", ", failed.Take(4).Select(j => $"block {j.Block} candidate {j.Candidate}: {j.Error}"))}");
            return 0;
        }));
        return c;
    }

    static Command Status()
    {
        var exp = ExperimentOption();
        var json = Cli.JsonOption();
        var c = new Command("status", "Jobs of a DONNA experiment by kind and status, failed jobs with their errors, the predictor's quality.") { exp, json };
        c.SetAction(r => Cli.Run(() =>
        {
            string dir = r.GetValue(exp)!;
            using var store = ExperimentStore.Open(dir, create: false);
            var jobs = store.Jobs();
            var kinds = jobs.GroupBy(j => j.Kind).ToDictionary(g => g.Key, g => g.GroupBy(j => j.Status).ToDictionary(s => s.Key.ToString().ToLowerInvariant(), s => s.Count()));
            JsonNode? pred = store.GetMeta("predictor") is string ps ? JsonNode.Parse(ps) : null;
            var stale = jobs.Where(j => j.Status == JobStatus.Running && !ExperimentStore.OwnerAlive(j.Owner)).ToList();
            if (r.GetValue(json))
            {
                Console.Out.WriteLine(new JsonObject
                {
                    ["experiment"] = Path.GetFullPath(dir),
                    ["jobs"] = JsonSerializer.SerializeToNode(kinds),
                    ["failed"] = new JsonArray(jobs.Where(j => j.Status == JobStatus.Failed).Select(j => (JsonNode)new JsonObject { ["key"] = j.Key, ["error"] = j.Error }).ToArray()),
                    ["killed"] = new JsonArray(stale.Select(j => (JsonNode)j.Key).ToArray()),
                    ["predictor"] = pred == null ? null : new JsonObject { ["loo_kendall_tau"] = pred["loo_kendall_tau"]?.DeepClone(), ["loo_mse"] = pred["loo_mse"]?.DeepClone(), ["library"] = pred["library"]?.DeepClone() },
                }.ToJsonString(DonnaConfig.Indented));
                return 0;
            }
            var t = new Table().Title(Cli.Escape(Path.GetFullPath(dir))).AddColumns("kind", "pending", "running", "done", "failed", "seconds");
            foreach (var g in jobs.GroupBy(j => j.Kind))
                t.AddRow(g.Key, $"{g.Count(j => j.Status == JobStatus.Pending)}", $"{g.Count(j => j.Status == JobStatus.Running)}", $"{g.Count(j => j.Status == JobStatus.Done)}",
                    $"{g.Count(j => j.Status == JobStatus.Failed)}", F(g.Sum(j => j.Seconds ?? 0), "F0"));
            AnsiConsole.Write(t);
            foreach (var j in jobs.Where(j => j.Status == JobStatus.Failed)) AnsiConsole.MarkupLine($"[red]failed[/] {Cli.Escape(j.Describe())}: {Cli.Escape(j.Error ?? "")}");
            foreach (var j in stale) AnsiConsole.MarkupLine($"[yellow]killed[/] {Cli.Escape(j.Describe())} (owner {Cli.Escape(j.Owner ?? "?")} is gone; it restarts when claimed)");
            if (pred != null) AnsiConsole.MarkupLine($"predictor: leave-one-out Kendall tau {F(DonnaConfig.Num(pred["loo_kendall_tau"]))}, MSE {DonnaConfig.Num(pred["loo_mse"]):E2} over {pred["library"]} architectures");
            return 0;
        }));
        return c;
    }

    /// <summary>The Pareto front of search folder <paramref name="searchFolder"/> of the experiment (ordered by latency).</summary>
    static List<FrontPoint> ReadFront(DonnaExperiment e, string searchFolder)
    {
        string pj = Path.Combine(e.Dir, "search", searchFolder, "pareto.json");
        if (!File.Exists(pj)) throw new TailorException($"--search {searchFolder}: {pj} not found (searches: {string.Join(", ", Directory.Exists(Path.Combine(e.Dir, "search")) ? Directory.GetDirectories(Path.Combine(e.Dir, "search")).Select(Path.GetFileName) : Array.Empty<string>())})");
        try { return JsonNode.Parse(File.ReadAllText(pj))!["front"].Deserialize<List<FrontPoint>>(DonnaConfig.Json)!; }
        catch (Exception x) when (x is JsonException or NullReferenceException) { throw new TailorException($"{pj}: corrupt Pareto front ({x.Message.Split('\n')[0]})"); }
    }

    /// <summary>`tailor donna export`: one architecture of the space as an IR file, for tailor train / export onnx / latency measure.</summary>
    static Command Export()
    {
        var exp = ExperimentOption();
        var arch = new Option<string?>("--arch") { Description = "Architecture key (option index per block, e.g. 0-5-10-15)" };
        var search = new Option<string?>("--search") { Description = "A search folder name under <experiment>/search: export the front point of highest predicted accuracy (within --latency-ms)" };
        var limit = new Option<double?>("--latency-ms") { Description = "With --search: only front points whose measured latency is at most this" };
        var output = new Option<string>("--out") { Description = "Architecture JSON to write", Required = true };
        var json = Cli.JsonOption();
        var c = new Command("export", "Writes one architecture of the experiment's block space as an architecture JSON (the IR: teacher stem and head, the chosen blocks), " +
                                      "for tailor train, tailor export onnx or tailor latency measure.\n" +
                                      "Example: tailor donna export --experiment runs/donna --search ort-cpu-0.15ms-ab12cd34 --latency-ms 0.15 --out best.json")
        { exp, arch, search, limit, output, json };
        c.SetAction(r => Cli.Run(() =>
        {
            if ((r.GetValue(arch) == null) == (r.GetValue(search) == null)) throw new TailorException("give exactly one of --arch and --search");
            if (r.GetValue(limit) != null && r.GetValue(search) == null) throw new TailorException("--latency-ms applies with --search only");
            using var e = DonnaExperiment.Open(r.GetValue(exp)!, null);
            var ss = new BlockSearchSpace(e.Space);
            FrontPoint? point = null;
            int[] choice;
            if (r.GetValue(search) is string sf)
            {
                var front = ReadFront(e, sf);
                double lim = r.GetValue(limit) ?? double.PositiveInfinity;
                point = front.Where(p => p.LatencyMs <= lim).OrderByDescending(p => p.PredictedAcc).FirstOrDefault()
                    ?? throw new TailorException($"--latency-ms {lim.ToString("R", CultureInfo.InvariantCulture)}: no point of the front of {sf} is that fast (fastest: {front.Min(p => p.LatencyMs).ToString("F3", CultureInfo.InvariantCulture)} ms)");
                choice = ss.Parse(point.Key);
            }
            else choice = ss.Parse(r.GetValue(arch)!);
            var a = e.Space.Build(choice);
            string outFile = r.GetValue(output)!;
            if (Path.GetDirectoryName(Path.GetFullPath(outFile)) is string d) Directory.CreateDirectory(d);
            ArchJson.Save(a, outFile);
            var an = ArchAnalysis.Analyze(a);
            var o = new JsonObject
            {
                ["key"] = ss.Key(choice), ["blocks"] = new JsonArray(choice.Select(m => (JsonNode)e.Space.Options[m].Name).ToArray()),
                ["predicted_acc"] = point?.PredictedAcc, ["latency_ms"] = point?.LatencyMs, ["params"] = an.Params, ["macs"] = an.Macs, ["out"] = outFile,
            };
            if (r.GetValue(json)) Console.Out.WriteLine(o.ToJsonString(DonnaConfig.Indented));
            else AnsiConsole.MarkupLine($"wrote {Cli.Escape(outFile)}: {Cli.Escape(ss.Key(choice))} ({Cli.Escape(string.Join(" ", choice.Select(m => e.Space.Options[m].Name)))}), {an.Params:N0} params, {Cli.Human(an.Macs)} MACs" +
                                        (point != null ? $", predicted {100 * point.PredictedAcc:F2}%, {F(point.LatencyMs)} ms" : ""));
            return 0;
        }));
        return c;
    }

    static Command Finetune()
    {
        var exp = ExperimentOption();
        var arch = new Option<string?>("--arch") { Description = "Architecture keys (option index per block, e.g. 0-5-10-15), comma-separated" };
        var search = new Option<string?>("--search") { Description = "A search folder name under <experiment>/search: its Pareto front" };
        var count = new Option<int>("--count") { Description = "With --search: this many front points, spread over latency", DefaultValueFactory = _ => 3 };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => 2 };
        var seeds = new Option<string>("--seeds") { Description = "Seeds, comma-separated", DefaultValueFactory = _ => "0" };
        var scratch = new Option<bool>("--scratch") { Description = "Train from scratch (random init, cross-entropy) instead of from BKD weights with distillation" };
        var lr = new Option<double?>("--lr") { Description = "SGD learning rate (default: the library's for finetuning, 0.05 from scratch)" };
        var kdAlpha = new Option<double?>("--kd-alpha") { Description = "From BKD: weight of the teacher's soft targets in the loss, the rest cross-entropy on the labels (default: the experiment's, 0.8); lower it when the teacher is weaker than the network" };
        var target = new Option<string?>("--target") { Description = "Also measure the latency on this target (cached)" };
        var threads = new Option<int>("--threads") { Description = "Torch threads (default: all cores)", DefaultValueFactory = _ => 0 };
        var json = Cli.JsonOption();
        var c = new Command("finetune", "Finetunes architectures of the experiment's space from their BKD weights with distillation from the teacher (or trains them from scratch " +
                                        "with --scratch) on the whole training split and scores them on the test split. Each (architecture, epochs, seed, mode) is one job.\n" +
                                        "Example: tailor donna finetune --experiment runs/donna --search ort-cpu-0.15ms-ab12cd34 --epochs 2 --seeds 0,1,2")
        { exp, arch, search, count, epochs, seeds, scratch, lr, kdAlpha, target, threads, json };
        c.SetAction(r => Cli.Run(() =>
        {
            bool asJson = r.GetValue(json);
            var console = ConsoleFor(asJson);
            SetThreads(r.GetValue(threads));
            if ((r.GetValue(arch) == null) == (r.GetValue(search) == null)) throw new TailorException("give exactly one of --arch and --search");
            if (r.GetValue(epochs) < 1) throw new TailorException($"--epochs: expected >= 1 (got {r.GetValue(epochs)})");
            var seedList = r.GetValue(seeds)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : throw new TailorException($"--seeds: '{s}' is not an integer")).ToList();
            var tgt = r.GetValue(target) is string ts ? LatencyTargets.Parse(ts) : null;
            using var e = DonnaExperiment.Open(r.GetValue(exp)!, null);
            var ss = new BlockSearchSpace(e.Space);
            List<string> keys;
            if (r.GetValue(search) is string sf)
                keys = DonnaExperiment.Pick(ReadFront(e, sf), r.GetValue(count)).Select(p => p.Key).ToList();
            else keys = r.GetValue(arch)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(k => ss.Key(ss.Parse(k))).ToList();
            var results = new ProgressView(console).Run(p =>
            {
                e.Progress = p;
                return keys.SelectMany(k => seedList.Select(s => e.Finetune(new DonnaExperiment.FinetuneSpec(k, r.GetValue(epochs), s, r.GetValue(scratch), r.GetValue(lr), r.GetValue(kdAlpha)), tgt, MeasureOptions.Default with { MaxError = 0.03 }))).ToList();
            });
            var rows = results.Select(j => new JsonObject
            {
                ["job"] = j.Key, ["status"] = j.Status.ToString().ToLowerInvariant(), ["error"] = j.Error,
                ["key"] = j.Result?["key"]?.DeepClone(), ["mode"] = j.Result?["mode"]?.DeepClone(), ["epochs"] = j.Result?["epochs"]?.DeepClone(), ["seed"] = j.Result?["seed"]?.DeepClone(),
                ["lr"] = j.Result?["lr"]?.DeepClone(), ["kd_alpha"] = j.Result?["kd_alpha"]?.DeepClone(), ["val_acc"] = j.Result?["val_acc"]?.DeepClone(), ["test_acc"] = j.Result?["test_acc"]?.DeepClone(), ["latency_ms"] = j.Result?["latency_ms"]?.DeepClone(), ["seconds"] = j.Seconds,
                ["onnx"] = InExperiment(e, j.Result?["onnx"]), ["weights"] = InExperiment(e, j.Result?["weights"]),
            }).ToList();
            if (asJson) Console.Out.WriteLine(new JsonArray(rows.Select(x => (JsonNode)x).ToArray()).ToJsonString(DonnaConfig.Indented));
            else
            {
                var t = new Table().AddColumns("job", "status", "val acc", "test acc", "latency (ms)", "seconds");
                foreach (var x in rows)
                    t.AddRow(Cli.Escape((string)x["job"]!), (string)x["status"]!, x["val_acc"] is JsonNode v ? $"{100 * (double)v:F2}%" : "-",
                        x["test_acc"] is JsonNode ta ? $"{100 * (double)ta:F2}%" : Cli.Escape((string?)x["error"] ?? "-"), x["latency_ms"] is JsonNode l ? F((double)l) : "-",
                        x["seconds"] is JsonNode sec ? F((double)sec, "F0") : "-");
                console.Write(t);
            }
            var failed = results.Where(j => j.Status == JobStatus.Failed).ToList();
            if (failed.Count > 0) throw new TailorException($"{failed.Count} finetune jobs failed: {string.Join(", ", failed.Select(j => $"{j.Key}: {j.Error}"))}");
            return 0;
        }));
        return c;
    }
}
