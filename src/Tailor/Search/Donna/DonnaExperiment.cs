using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Hardware.Latency;
using Tailor.Models;
using Tailor.Training;
using Tailor.Util;
using TorchSharp;

namespace Tailor.Search.Donna;

/// <summary>Progress of the pipeline: a stage (teacher, features, bkd, library, search, final) at done/total, with a detail line.</summary>
public delegate void DonnaProgress(string stage, long done, long total, string detail);

/// <summary>
/// A DONNA experiment in a folder: the experiment store (configuration and jobs), the teacher
/// (teacher/, a `tailor train` run), the teacher feature cache (features/), BKD weights (bkd/),
/// the latency cache (latency.jsonl) and searches (search/&lt;id&gt;/). Every stage is made of
/// jobs recorded in the store; finished jobs are never redone, a killed job restarts cleanly.
/// </summary>
public sealed class DonnaExperiment : IDisposable
{
    public string Dir { get; }
    public DonnaConfig Config { get; }
    public ExperimentStore Store { get; }
    public DonnaData Data { get; }
    public Architecture TeacherArch { get; }
    public BlockSpace Space { get; }
    public DonnaProgress? Progress { get; set; }
    public Action<string>? Log { get; set; }
    public int Threads { get; set; } = 1;

    ConvNet? _teacher;
    TeacherFeatures? _features;

    public string TeacherDir => Path.Combine(Dir, "teacher");
    public string FeaturesDir => Path.Combine(Dir, "features");
    public string LatencyCachePath => Path.Combine(Dir, "latency.jsonl");

    DonnaExperiment(string dir, DonnaConfig config, ExperimentStore store, DonnaData data, Architecture teacherArch, BlockSpace space)
    {
        Dir = dir; Config = config; Store = store; Data = data; TeacherArch = teacherArch; Space = space;
    }

    /// <summary>
    /// Opens the experiment in <paramref name="dir"/>, creating it with <paramref name="config"/> when it does not exist.
    /// With a config and an existing experiment, the two must agree. Without one, the experiment must exist.
    /// </summary>
    public static DonnaExperiment Open(string dir, DonnaConfig? config)
    {
        dir = Path.GetFullPath(dir);
        if (File.Exists(dir)) throw new TailorException($"{dir}: exists and is not a directory");
        config = config?.Validate().Normalized();
        bool existed = ExperimentStore.Exists(dir);
        if (!existed && config == null) ExperimentStore.Open(dir, create: false); // throws: not found
        // check everything about the input before creating anything
        DonnaConfig cfg;
        string? stored = null;
        if (existed)
        {
            using var probe = ExperimentStore.Open(dir, create: false);
            stored = probe.GetMeta("config") ?? throw new TailorException($"{Path.Combine(dir, ExperimentStore.FileName)}: corrupt experiment store (no configuration); it was left as it is");
        }
        if (stored != null)
        {
            cfg = DonnaConfig.FromJson(stored, Path.Combine(dir, ExperimentStore.FileName));
            if (config != null)
            {
                var diff = DonnaConfig.Differences(config, cfg).ToList();
                if (diff.Count > 0)
                    throw new TailorException($"{dir}: holds an experiment with other settings ({string.Join("; ", diff.Take(3))}); use another --out, or the same settings to resume");
            }
        }
        else cfg = config!;
        var data = new DonnaData(cfg);
        var teacherArch = ResolveTeacher(cfg, data);
        var space = MakeSpace(cfg, teacherArch);
        var store = ExperimentStore.Open(dir, create: true);
        if (stored == null) store.SetMeta("config", cfg.ToJson());
        var e = new DonnaExperiment(dir, cfg, store, data, teacherArch, space);
        e.EnsureJobs();
        return e;
    }

    static Architecture ResolveTeacher(DonnaConfig c, DonnaData data)
    {
        if (c.TeacherRun is string run)
        {
            string archPath = Path.Combine(run, TrainingRun.ArchFile), wPath = Path.Combine(run, TrainingRun.WeightsFile);
            if (!File.Exists(archPath) || !File.Exists(wPath))
                throw new TailorException($"--teacher-run {run}: not a finished tailor train run ({TrainingRun.ArchFile} and {TrainingRun.WeightsFile} expected)");
            var a = ArchJson.Load(archPath);
            if (a.Input != data.Source.Shape || a.Classes != data.Source.Classes)
                throw new TailorException($"--teacher-run {run}: the teacher takes {a.Input} images and {a.Classes} classes, the data has {data.Source.Shape} and {data.Source.Classes}");
            return a;
        }
        return TrainingRun.Retarget(new RunConfig { Arch = c.Teacher, Width = c.TeacherWidth, Data = c.Data }, data.Source);
    }

    /// <summary>The block space of a teacher: cut at its stride-2 blocks, or at the configured boundaries (which must respect them).</summary>
    public static BlockSpace MakeSpace(DonnaConfig c, Architecture teacher)
    {
        if (c.Cuts == null && c.SkipFirst >= teacher.Blocks.Count)
            throw new TailorException($"--skip-first {c.SkipFirst}: the teacher {teacher.Name} has only {teacher.Blocks.Count} blocks");
        var cuts = DonnaConfig.ParseCuts(c.Cuts) ?? BlockSpace.StrideCuts(teacher, c.SkipFirst);
        if (cuts[^1].Item2 > teacher.Blocks.Count)
            throw new TailorException($"--cuts {c.Cuts}: the teacher {teacher.Name} has only {teacher.Blocks.Count} blocks");
        foreach (var (s, e) in cuts)
            for (int i = s; i < e; i++)
                if (teacher.Blocks[i].Kind != BlockKind.MBConv)
                    throw new TailorException($"teacher {teacher.Name}: block {i} is {teacher.Blocks[i].Kind}, but DONNA blocks replace MBConv layers only");
        try { return new BlockSpace("donna", teacher, cuts, c.GridOrDefault()); }
        catch (TailorException e) { throw new TailorException($"teacher {teacher.Name} does not match the block space: {e.Message}"); }
    }

    public static string BkdKey(int n, int m) => $"bkd/b{n}/c{m}";

    void EnsureJobs()
    {
        Store.Ensure("teacher", "teacher");
        Store.Ensure("features", "features");
        for (int n = 0; n < Space.BlockCount; n++)
            for (int m = 0; m < Space.Options.Count; m++) Store.Ensure(BkdKey(n, m), "bkd", n, m);
        foreach (var key in LibraryKeys())
            for (int r = 0; r < Config.LibrarySeeds; r++) Store.Ensure(LibJob(key, r), "lib");
    }

    /// <summary>Store key of library architecture <paramref name="key"/>'s finetune number <paramref name="repeat"/> (the first keeps the one-seed name).</summary>
    public static string LibJob(string key, int repeat) => repeat == 0 ? "lib/" + key : $"lib/{key}/seed{repeat}";

    void Report(string stage, long done, long total, string detail = "") => Progress?.Invoke(stage, done, total, detail);

    // ---------------- teacher ----------------

    public ConvNet Teacher()
    {
        if (_teacher != null) return _teacher;
        RunTeacher();
        string dir = Config.TeacherRun ?? TeacherDir;
        var net = new ConvNet(TeacherArch);
        Weights.Load(net, Path.Combine(dir, TrainingRun.WeightsFile));
        net.eval();
        return _teacher = net;
    }

    public JobRecord RunTeacher(CancellationToken ct = default) => Store.RunJob("teacher", () =>
    {
        if (Config.TeacherRun is string run)
        {
            var o = new JsonObject { ["teacher_run"] = Path.GetFullPath(run), ["arch"] = TeacherArch.Name, ["params"] = ArchAnalysis.Analyze(TeacherArch).Params };
            // the run's own accuracies, for the summary (a run without its run.json still works as a teacher)
            string rj = Path.Combine(run, TrainingRun.RunFile);
            if (File.Exists(rj) && JsonNode.Parse(File.ReadAllText(rj))?["summary"] is JsonObject sum)
            {
                o["val_acc"] = sum["best_val_acc"]?.DeepClone();
                o["test_acc"] = sum["test_acc"]?.DeepClone();
            }
            return o;
        }
        var rc = new RunConfig
        {
            Arch = Config.Teacher, Width = Config.TeacherWidth, Data = Config.Data, Subset = Config.Subset, ValSplit = Config.ValSplit, Threads = Threads,
            Train = new TrainConfig { Epochs = Config.TeacherEpochs, BatchSize = Config.TeacherBatch, Lr = Config.TeacherLr, Optimizer = "sgd", Schedule = "cosine", WarmupEpochs = Math.Min(0.5, Config.TeacherEpochs / 2.0), Seed = Config.Seed },
        };
        bool resume = File.Exists(Path.Combine(TeacherDir, TrainingRun.CheckpointFile));
        var h = resume ? Checkpoint.ReadHeader(Path.Combine(TeacherDir, TrainingRun.CheckpointFile)) : null;
        using var tr = resume && h!.Epoch < Config.TeacherEpochs ? TrainingRun.PrepareResume(TeacherDir) : resume ? PrepareFinished(rc) : TrainingRun.Prepare(rc, TeacherDir);
        tr.StepEnd = p => Report("teacher", p.Step, (long)p.StepsPerEpoch * Config.TeacherEpochs, $"epoch {p.Epoch + 1}/{Config.TeacherEpochs} loss {p.RunningLoss:F3} acc {100 * p.RunningAcc:F1}%");
        var s = tr.Run(ct);
        return new JsonObject
        {
            ["arch"] = s.Arch, ["params"] = s.Params, ["macs"] = s.Macs, ["epochs"] = s.Epochs, ["val_acc"] = s.BestValAcc, ["last_val_acc"] = s.Last?.ValAcc,
            ["test_acc"] = s.TestAcc, ["train_seconds"] = s.TrainSeconds,
        };
    }, rethrowUserErrors: true) ?? throw new TailorException("teacher: another process is training the teacher; wait for it (tailor donna status)");

    // A run whose checkpoint holds every epoch but which was killed before it wrote its weights: rerun Prepare on a clean checkpoint-less start would redo it; resuming at the last epoch just writes the outputs.
    TrainingRun PrepareFinished(RunConfig rc)
    {
        File.Delete(Path.Combine(TeacherDir, TrainingRun.CheckpointFile));
        return TrainingRun.Prepare(rc, TeacherDir);
    }

    // ---------------- features ----------------

    public TeacherFeatures Features()
    {
        if (_features != null) return _features;
        var teacher = Teacher();
        Store.RunJob("features", () =>
        {
            var idx = TeacherFeatures.Build(FeaturesDir, Space, teacher, Data, (long)Config.FeatureCacheMb << 20, (d, t) => Report("features", d, t));
            return new JsonObject { ["cached"] = idx["cached"]!.DeepClone(), ["train_count"] = Data.BkdTrain.Count, ["val_count"] = Data.BkdVal.Count };
        });
        var j = Store.Get("features")!;
        if (j.Status != JobStatus.Done) throw new TailorException($"features: the teacher-feature job is {j.Status.ToString().ToLowerInvariant()}{(j.Error != null ? ": " + j.Error : "")}");
        return _features = TeacherFeatures.Open(FeaturesDir, Space, teacher, Data);
    }

    // ---------------- BKD ----------------

    /// <summary>
    /// Runs the claimable BKD jobs (pending, killed, and with <paramref name="retryFailed"/> failed ones), optionally only of one
    /// block / candidate. Candidates of the same block train together on shared teacher batches. Returns the jobs this call ran.
    /// </summary>
    public List<JobRecord> RunBkd(int? block = null, int? candidate = null, bool retryFailed = false, CancellationToken ct = default)
    {
        if (block is int b && (b < 0 || b >= Space.BlockCount)) throw new TailorException($"--block {b}: the space has blocks 0..{Space.BlockCount - 1}");
        if (candidate is int cm && (cm < 0 || cm >= Space.Options.Count)) throw new TailorException($"--candidate {cm}: the space has candidates 0..{Space.Options.Count - 1}");
        var f = Features();
        var ran = new List<JobRecord>();
        int totalJobs = Store.Jobs("bkd").Count, doneJobs = Store.Jobs("bkd").Count(j => j.Status == JobStatus.Done);
        for (int n = 0; n < Space.BlockCount; n++)
        {
            if (block is int bb && bb != n) continue;
            var claimed = new List<int>();
            for (int m = 0; m < Space.Options.Count; m++)
                if ((candidate == null || candidate == m) && Store.TryClaim(BkdKey(n, m), retryFailed)) claimed.Add(m);
            if (claimed.Count == 0) continue;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            int n0 = n;
            List<BkdTrainer.Result> results;
            try
            {
                results = BkdTrainer.TrainBlock(Dir, Config, Space, f, n, claimed,
                    (s, t) => Report("bkd", doneJobs, totalJobs, $"block {n0}: {claimed.Count} candidates, step {s}/{t}"), ct);
            }
            catch
            {
                foreach (int m in claimed) Store.Release(BkdKey(n, m));
                throw;
            }
            double each = sw.Elapsed.TotalSeconds / claimed.Count;
            foreach (var r in results)
            {
                string key = BkdKey(n, r.Candidate);
                if (r.Error != null) Store.Fail(key, r.Error, each);
                else Store.Complete(key, new JsonObject
                {
                    ["block"] = n, ["candidate"] = r.Candidate, ["name"] = Space.Options[r.Candidate].Name, ["nsr"] = r.Nsr, ["train_nsr"] = r.TrainNsr,
                    ["params"] = r.Params, ["adapter"] = r.Adapter, ["group"] = claimed.Count,
                }, each);
                ran.Add(Store.Get(key)!);
                doneJobs++;
            }
            Report("bkd", doneJobs, totalJobs, $"block {n} done");
        }
        return ran;
    }

    /// <summary>NSR of every (block, candidate); throws naming the BKD jobs that are missing or failed.</summary>
    public double[][] RequireBkd()
    {
        var jobs = Store.Jobs("bkd");
        var bad = jobs.Where(j => j.Status != JobStatus.Done).ToList();
        if (bad.Count > 0)
        {
            var failed = bad.Where(j => j.Status == JobStatus.Failed).ToList();
            var missing = bad.Where(j => j.Status != JobStatus.Failed).ToList();
            string Name(JobRecord j) => $"block {j.Block} candidate {j.Candidate} ({Space.Options[j.Candidate!.Value].Name})";
            var parts = new List<string>();
            if (failed.Count > 0) parts.Add($"{failed.Count} failed: " + string.Join(", ", failed.Take(4).Select(j => $"{Name(j)}: {j.Error}")) + (failed.Count > 4 ? ", ..." : ""));
            if (missing.Count > 0) parts.Add($"{missing.Count} not done: " + string.Join(", ", missing.Take(4).Select(j => $"{Name(j)} ({j.Status.ToString().ToLowerInvariant()})")) + (missing.Count > 4 ? ", ..." : ""));
            throw new TailorException($"BKD jobs of {Dir}: {string.Join("; ", parts)}; run them with tailor donna bkd --experiment {Dir}" + (failed.Count > 0 ? " --retry-failed" : ""));
        }
        var nsr = Enumerable.Range(0, Space.BlockCount).Select(_ => new double[Space.Options.Count]).ToArray();
        foreach (var j in jobs)
        {
            double v = (double?)j.Result?["nsr"] ?? double.NaN;
            if (!double.IsFinite(v)) throw new TailorException($"{Store.Path}: BKD job {j.Key} is done but records no NSR (corrupt store)");
            nsr[j.Block!.Value][j.Candidate!.Value] = v;
        }
        return nsr;
    }

    // ---------------- library ----------------

    /// <summary>The library's architectures (keys), sampled across the MAC range of the space: the two corners, then evenly spaced MAC quantiles of a random pool.</summary>
    public List<string> LibraryKeys()
    {
        var ss = new BlockSearchSpace(Space);
        var rng = new Rng(Rng.Derive(Config.Seed, "donna-library").NextULong());
        int k = (int)Math.Min(Config.LibrarySize, ss.Size);
        var (mn, mx) = DonnaSearch.Extremes(Space);
        var pool = new Dictionary<string, long>();
        for (int t = 0; t < 30 * k && pool.Count < 20 * k; t++)
        {
            var a = ss.Sample(rng);
            string key = ss.Key(a);
            if (!pool.ContainsKey(key)) pool[key] = ArchAnalysis.Analyze(Space.Build(a)).Macs;
        }
        var sorted = pool.OrderBy(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key).ToList();
        var chosen = new List<string> { ss.Key(mn) };
        if (ss.Key(mx) != chosen[0]) chosen.Add(ss.Key(mx));
        var used = new HashSet<string>(chosen);
        int need = k - chosen.Count;
        for (int i = 0; i < need && used.Count < sorted.Count + 2; i++)
        {
            int pos = need == 1 ? sorted.Count / 2 : (int)Math.Round((double)i * (sorted.Count - 1) / (need - 1));
            for (int d = 0; d < sorted.Count; d++)
            {
                foreach (int p in new[] { pos + d, pos - d })
                    if (p >= 0 && p < sorted.Count && used.Add(sorted[p])) { chosen.Add(sorted[p]); goto next; }
            }
            next:;
        }
        return chosen;
    }

    /// <summary>Finetunes every library architecture <see cref="DonnaConfig.LibrarySeeds"/> times; returns the jobs, architecture by architecture.</summary>
    public List<JobRecord> RunLibrary(CancellationToken ct = default)
    {
        RequireBkd();
        var teacher = Teacher();
        var keys = LibraryKeys();
        var ss = new BlockSearchSpace(Space);
        var train = Config.LibraryImages is int li ? Splits.Subset(Data.Train, li, Config.Seed + 3) : Data.Train;
        var jobs = keys.SelectMany((k, i) => Enumerable.Range(0, Config.LibrarySeeds).Select(r => (Key: k, Index: i, Repeat: r))).ToList();
        int Done() => jobs.Count(j => Store.Get(LibJob(j.Key, j.Repeat))?.Status == JobStatus.Done);
        int done = Done();
        foreach (var (key, i, repeat) in jobs)
        {
            var choice = ss.Parse(key);
            // Repeat 0 keeps the seed a one-seed library always had, so adding seeds reuses its finetunes.
            long seed = Config.Seed + 100 + i + 100_003L * repeat;
            Store.RunJob(LibJob(key, repeat), () =>
            {
                var r = Assembly.Train(Space, choice, teacher, Dir, Config, Data, train, Config.LibraryEpochs, Config.LibraryLr, seed, fromBkd: true,
                    progress: (s, t) => Report("library", done, jobs.Count, $"{key}: step {s}/{t}"), ct: ct);
                var an = ArchAnalysis.Analyze(Space.Build(choice));
                return new JsonObject
                {
                    ["key"] = key, ["repeat"] = repeat, ["seed"] = seed, ["val_acc"] = r.ValAcc, ["seconds"] = r.Seconds, ["final_loss"] = r.FinalLoss, ["macs"] = an.Macs, ["params"] = an.Params,
                    ["inherited_whole"] = r.Whole, ["inherited_partial"] = r.Partial, ["adapters_folded"] = r.Folded,
                };
            });
            done = Done();
            Report("library", done, jobs.Count, key);
        }
        return jobs.Select(j => Store.Get(LibJob(j.Key, j.Repeat))!).ToList();
    }

    // ---------------- predictor ----------------

    /// <param name="NoiseCeilingTau">The tau a perfect predictor could reach given the validation set's size (<see cref="AccuracyPredictor.NoiseCeilingTau"/>).</param>
    /// <param name="Warning">Set when the predictor cannot be trusted to rank (see <see cref="PredictorWarning"/>).</param>
    public sealed record PredictorReport(AccuracyPredictor Predictor, AccuracyPredictor.LooResult Loo, IReadOnlyList<string> Keys, double[][] Nsr, double NoiseCeilingTau, string? Warning = null);

    /// <summary>
    /// A warning when the search would rank by noise: the library's accuracies lie within the validation
    /// set's sampling noise (a low noise ceiling), or the fitted predictor barely ranks the library.
    /// The thresholds are loose on purpose: below them the Pareto front says little about accuracy.
    /// </summary>
    public static string? PredictorWarning(double looTau, double ceilingTau, int valImages, int library)
    {
        if (ceilingTau < 0.6)
            return FormattableString.Invariant($"predictor: the accuracies of the {library} library networks differ by little more than the sampling noise of {valImages} validation images ") +
                   FormattableString.Invariant($"(noise-ceiling Kendall tau {ceilingTau:F2}, leave-one-out tau {looTau:F2}), so the search ranks mostly by noise; use more data (--subset, --val-split) or a wider --grid");
        if (looTau < 0.3)
            return FormattableString.Invariant($"predictor: leave-one-out Kendall tau {looTau:F2} over {library} library networks (noise ceiling {ceilingTau:F2}): the block NSRs barely rank the library; ") +
                   "try more --bkd-images, a larger --library-size or more --library-epochs";
        return null;
    }

    public PredictorReport Predictor()
    {
        var nsr = RequireBkd();
        var ss = new BlockSearchSpace(Space);
        var keys = LibraryKeys();
        var lib = keys.SelectMany(k => Enumerable.Range(0, Config.LibrarySeeds).Select(r => Store.Get(LibJob(k, r))!)).ToList();
        var bad = lib.Where(j => j.Status != JobStatus.Done).ToList();
        if (bad.Count > 0)
            throw new TailorException($"architecture library of {Dir}: {bad.Count} of {lib.Count} finetunes not done ({string.Join(", ", bad.Take(4).Select(j => $"{j.Key} {j.Status.ToString().ToLowerInvariant()}{(j.Error != null ? ": " + j.Error : "")}"))}); run tailor search donna again to finish them");
        var x = keys.Select(k => ss.Parse(k).Select((m, n) => nsr[n][m]).ToArray()).ToList();
        // accBySeed[r][i]: architecture i's validation accuracy after finetune number r.
        var accBySeed = Enumerable.Range(0, Config.LibrarySeeds)
            .Select(r => keys.Select(k => (double)Store.Get(LibJob(k, r))!.Result!["val_acc"]!).ToArray()).ToArray();
        var y = Enumerable.Range(0, keys.Count).Select(i => accBySeed.Average(a => a[i])).ToList();
        var loo = AccuracyPredictor.LeaveOneOut(x, y, Config.RidgeLambda);
        var p = AccuracyPredictor.Fit(x, y, Config.RidgeLambda);
        var o = p.ToJson();
        o["loo_kendall_tau"] = loo.KendallTau; o["loo_mse"] = loo.Mse; o["library"] = keys.Count;
        o["val_images"] = Data.Val.Count;
        double ceiling = AccuracyPredictor.NoiseCeilingTau(y, Data.Val.Count, (ulong)Config.Seed + 17);
        o["noise_ceiling_tau"] = ceiling;
        o["library_seeds"] = Config.LibrarySeeds;
        string? warning = PredictorWarning(loo.KendallTau, ceiling, Data.Val.Count, keys.Count);
        if (warning != null) o["warning"] = warning;
        // How well one finetune ranks the library like another (mean over pairs of seeds): the ranking noise of
        // the library itself, validation sampling and training together.
        if (Config.LibrarySeeds > 1)
        {
            var taus = new List<double>();
            for (int a = 0; a < accBySeed.Length; a++)
                for (int b = a + 1; b < accBySeed.Length; b++) taus.Add(Stats.KendallTauB(accBySeed[a], accBySeed[b]));
            o["seed_to_seed_tau"] = taus.Average();
        }
        o["loo"] = new JsonArray(keys.Select((k, i) => (JsonNode)new JsonObject { ["key"] = k, ["actual"] = loo.Actual[i], ["predicted"] = loo.Predicted[i],
            ["per_seed"] = new JsonArray(accBySeed.Select(a => (JsonNode)a[i]).ToArray()) }).ToArray());
        Store.SetMeta("predictor", o.ToJsonString(DonnaConfig.Compact));
        AtomicFile.WriteAllText(Path.Combine(Dir, "predictor.json"), o.ToJsonString(DonnaConfig.Indented) + "\n");
        return new PredictorReport(p, loo, keys, nsr, ceiling, warning);
    }

    // ---------------- search ----------------

    public sealed record SearchOutcome(string Folder, List<FrontPoint> Front, double Hypervolume, double RefAcc, double RefMs, double LoMs, double HiMs, int Evaluated, int Measured, JobRecord Job);

    public SearchOutcome Search(ILatencyTarget target, DonnaSearchOptions o, MeasureOptions measure, PredictorReport pred, CancellationToken ct = default)
    {
        string folder = o.Folder(target);
        string dir = Path.Combine(Dir, "search", folder);
        string key = "search/" + folder;
        var cache = new LatencyCache(LatencyCachePath);
        var ev = new DonnaEvaluator(Space, pred.Nsr, pred.Predictor, target, cache, measure);
        var (lo, hi) = DonnaSearch.CheckTarget(Space, ev, o, target.Spec);
        Store.Ensure(key, "search");
        var ss = new BlockSearchSpace(Space);
        var job = Store.RunJob(key, () =>
        {
            Directory.CreateDirectory(dir);
            var run = DonnaSearch.Create(ss, ev, o);
            string state = Path.Combine(dir, "state.json");
            if (File.Exists(state)) run.LoadFrom(state);
            int budget = run.Context.Budget.MaxQueries;
            run.Run(onStep: r =>
            {
                r.SaveTo(state);
                Report("search", r.Context.Queries, budget, $"{r.Context.Queries} architectures, {ev.Measured} measured this run");
                ct.ThrowIfCancellationRequested();
            });
            run.SaveTo(state);
            var front = DonnaSearch.Front(run);
            if (front.Count == 0) throw new JobFailedException("no evaluated architecture meets the latency limit");
            double refAcc = run.Context.History.Min(e => e.Metrics.Valid), refMs = hi * (1 + o.Tolerance);
            double hv = DonnaSearch.Hypervolume(front.Select(e => (e.Metrics.Valid, e.Metrics.Latency)), refAcc, refMs);
            var pts = front.Select(e =>
            {
                var an = ArchAnalysis.Analyze(Space.Build(e.Arch));
                return new FrontPoint(e.Key, e.Arch.Select(m => Space.Options[m].Name).ToArray(), e.Metrics.Valid, e.Metrics.Latency, an.Params, an.Macs);
            }).ToList();
            var res = new JsonObject
            {
                ["target"] = target.Spec, ["latency_ms"] = o.LatencyMs, ["population"] = o.Population, ["generations"] = o.Generations, ["seed"] = o.Seed,
                ["evaluated"] = run.Context.Queries, ["reachable_ms"] = new JsonArray(lo, hi),
                ["hypervolume"] = hv, ["hv_ref"] = new JsonObject { ["acc"] = refAcc, ["ms"] = refMs },
                ["front"] = JsonSerializer.SerializeToNode(pts, DonnaConfig.Json),
            };
            AtomicFile.WriteAllText(Path.Combine(dir, "pareto.json"), res.ToJsonString(DonnaConfig.Indented) + "\n");
            var csv = new System.Text.StringBuilder("key,predicted_acc,latency_ms,feasible\n");
            foreach (var e in run.Context.History)
                csv.Append(CultureInfo.InvariantCulture, $"{e.Key},{e.Metrics.Valid:R},{e.Metrics.Latency:R},{(run.Context.Problem.Feasible(e.Metrics) ? 1 : 0)}\n");
            AtomicFile.WriteAllText(Path.Combine(dir, "history.csv"), csv.ToString());
            DonnaSearch.Plot(Path.Combine(dir, "pareto.png"), run, front, null, o.LatencyMs);
            return res;
        }) ?? throw new TailorException($"search {folder}: another process is running this search");
        if (job.Status == JobStatus.Failed) throw new TailorException($"search {folder}: {job.Error}");
        var r = job.Result!;
        var frontPts = r["front"].Deserialize<List<FrontPoint>>(DonnaConfig.Json)!;
        return new SearchOutcome(folder, frontPts, (double)r["hypervolume"]!, (double)r["hv_ref"]!["acc"]!, (double)r["hv_ref"]!["ms"]!, lo, hi,
            (int)r["evaluated"]!, ev.Measured, job);
    }

    // ---------------- finetuning ----------------

    /// <summary>Up to <paramref name="count"/> front points spread evenly over the front's latency range.</summary>
    public static List<FrontPoint> Pick(IReadOnlyList<FrontPoint> front, int count)
    {
        if (front.Count <= count) return front.ToList();
        if (count == 1) return new List<FrontPoint> { front[^1] };
        return Enumerable.Range(0, count).Select(i => front[(int)Math.Round((double)i * (front.Count - 1) / (count - 1))]).Distinct().ToList();
    }

    /// <summary>One finetune job; <paramref name="KdAlpha"/> overrides the experiment's distillation weight (from BKD only).</summary>
    public sealed record FinetuneSpec(string Key, int Epochs, long Seed, bool Scratch, double? Lr = null, double? KdAlpha = null)
    {
        public string JobKey => $"ft/{(Scratch ? "scratch" : "bkd")}/{Key}/e{Epochs}/s{Seed}" + (Lr is double l ? $"/lr{l.ToString("R", CultureInfo.InvariantCulture)}" : "") +
                                (KdAlpha is double a ? $"/kd{a.ToString("R", CultureInfo.InvariantCulture)}" : "");

        /// <summary>Refuses overrides that cannot train; <paramref name="prefix"/> names the options as the caller spells them (--lr, --final-lr, ...).</summary>
        public static void ValidateOverrides(double? lr, double? kdAlpha, bool scratch, string prefix = "")
        {
            if (lr is double l) OptionCheck.Positive($"--{prefix}lr", l);
            if (kdAlpha != null && scratch) throw new TailorException($"--{prefix}kd-alpha: a run from scratch has no distillation (drop --{prefix}kd-alpha or --scratch)");
            if (kdAlpha is double k) DonnaConfig.RequireKdWeight(k, prefix + "kd-alpha");
        }
    }

    /// <summary>
    /// Trains an architecture of the space on the whole training split and scores it on the test split: from BKD weights with
    /// distillation from the teacher, or from scratch (cross-entropy). Each (architecture, epochs, seed, mode) is one job.
    /// </summary>
    public JobRecord Finetune(FinetuneSpec spec, ILatencyTarget? target = null, MeasureOptions? measure = null, CancellationToken ct = default)
    {
        FinetuneSpec.ValidateOverrides(spec.Lr, spec.KdAlpha, spec.Scratch);
        var ss = new BlockSearchSpace(Space);
        var choice = ss.Parse(spec.Key);
        if (!spec.Scratch)
        {
            var jobs = choice.Select((m, n) => Store.Get(BkdKey(n, m))!).Where(j => j.Status != JobStatus.Done).ToList();
            if (jobs.Count > 0)
                throw new TailorException($"finetune {spec.Key}: BKD jobs {string.Join(", ", jobs.Select(j => $"block {j.Block} candidate {j.Candidate} ({j.Status.ToString().ToLowerInvariant()}{(j.Error != null ? ": " + j.Error : "")})"))} are needed first; run tailor donna bkd --experiment {Dir}");
        }
        var teacher = Teacher();
        Store.Ensure(spec.JobKey, "finetune");
        double lr = spec.Lr ?? (spec.Scratch ? 0.05 : Config.LibraryLr);
        double kdAlpha = spec.KdAlpha ?? Config.KdAlpha;
        // The job's files, relative to the experiment folder: the IR, the trained weights and the ONNX model.
        string stem = Path.Combine("finetune", spec.JobKey.Replace('/', '_'));
        var job = Store.RunJob(spec.JobKey, () =>
        {
            var r = Assembly.Train(Space, choice, teacher, Dir, Config, Data, Data.Train, spec.Epochs, lr, spec.Seed, fromBkd: !spec.Scratch, test: Data.Source.Test, kdAlpha: kdAlpha,
                progress: (s, t) => Report("finetune", s, t, $"{spec.Key} ({(spec.Scratch ? "scratch" : "from BKD")}, {spec.Epochs} epochs, seed {spec.Seed})"),
                saveTo: Path.Combine(Dir, stem), ct: ct);
            var arch = Space.Build(choice);
            var an = ArchAnalysis.Analyze(arch);
            var o = new JsonObject
            {
                ["key"] = spec.Key, ["mode"] = spec.Scratch ? "scratch" : "bkd", ["epochs"] = spec.Epochs, ["seed"] = spec.Seed, ["lr"] = lr,
                ["kd_alpha"] = spec.Scratch ? null : kdAlpha, ["val_acc"] = r.ValAcc, ["test_acc"] = r.TestAcc, ["seconds"] = r.Seconds, ["params"] = an.Params, ["macs"] = an.Macs,
            };
            if (target != null) o["latency_ms"] = new LatencyCache(LatencyCachePath).GetOrMeasure(target, arch, 1, measure).MedianMs;
            ArchJson.Save(arch, Path.Combine(Dir, stem + ".arch.json"));
            o["arch"] = stem + ".arch.json"; o["weights"] = stem + Assembly.WeightsSuffix; o["onnx"] = stem + Assembly.OnnxSuffix;
            return o;
        }) ?? throw new TailorException($"finetune {spec.Key}: another process is running this job");
        return job;
    }

    public void Dispose()
    {
        _features?.Dispose();
        _teacher?.Dispose();
        Store.Dispose();
    }
}
