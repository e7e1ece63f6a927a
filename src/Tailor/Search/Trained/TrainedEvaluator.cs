using System.Diagnostics;
using Tailor.Arch;
using Tailor.Util;
using Tailor.Training;

namespace Tailor.Search.Trained;

/// <summary>
/// The training recipe shared by the trained-evaluation search and the final training of
/// Single-Path NAS and random search: SGD, lr 0.05 per 128 images (linear scaling), cosine schedule,
/// 10% of the (optionally subset) training images held out for validation, one seed for weights,
/// data order and splits.
/// </summary>
public static class TrainRecipe
{
    public static RunConfig Config(string archFile, string data, int? subset, int threads, int epochs, int batch, int seed) => new()
    {
        Arch = archFile, Data = data, Subset = subset, ValSplit = "0.1", Threads = threads,
        Train = new TrainConfig { Epochs = epochs, BatchSize = batch, Optimizer = "sgd", Lr = 0.05 * batch / 128.0, Schedule = "cosine", Seed = seed },
    };
}

/// <summary>What <see cref="TrainedEvaluator"/> trains each candidate with.</summary>
public sealed record TrainedEvalOptions
{
    public string Data { get; init; } = "fashion-mnist";
    public int? Subset { get; init; }
    /// <summary>Epochs of each candidate's short training (the cosine schedule runs over these epochs).</summary>
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 128;
    /// <summary>The run seed: every candidate sees the same split, the same data order and the same initialisation stream.</summary>
    public int Seed { get; init; }
    /// <summary>Torch threads (&gt;= 1).</summary>
    public int Threads { get; init; } = 1;
    /// <summary>Training batches over which BN statistics are recomputed before each validation (<see cref="TrainConfig.BnRecalibrationBatches"/>).</summary>
    public int BnRecalibration { get; init; } = DefaultBnRecalibration;
    public const int DefaultBnRecalibration = 20;
}

/// <summary>
/// Evaluates a member of a <see cref="LayeredSearchSpace"/> by training it from scratch for a short
/// schedule with the same code and recipe as the final training (<see cref="TrainingRun"/>, so the
/// channels-last input conversion and per-step dispose scopes of the Trainer apply), on the train split
/// of the same subset. Valid = best validation accuracy; Latency = calibrated table latency;
/// Cost = compute seconds (process CPU time / threads: about the wall time on an idle machine, but
/// insensitive to other processes), so a <see cref="Budget.MaxCost"/> is a compute budget; extras
/// wall_seconds, cpu_seconds and compute_seconds (= Cost). The test split is never read.
/// Each candidate trains in a scratch folder under the work folder that is deleted afterwards.
/// </summary>
public sealed class TrainedEvaluator : IEvaluator<int[]>
{
    public const string CpuSecondsName = "cpu_seconds", ComputeSecondsName = "compute_seconds", WallSecondsName = "wall_seconds", ValLossName = "val_loss";
    public const string ScratchFolder = "candidate-scratch";

    public LayeredSearchSpace Space { get; }
    public TrainedEvalOptions Options { get; }
    public string WorkDir { get; }
    /// <summary>Step progress of the candidate being trained.</summary>
    public Action<StepProgress>? StepEnd { get; set; }

    public TrainedEvaluator(LayeredSearchSpace space, TrainedEvalOptions options, string workDir)
    {
        if (options.Epochs < 1) throw new TailorException($"--eval-epochs: expected >= 1 (got {options.Epochs})");
        if (options.Threads < 1) throw new TailorException($"threads: expected >= 1 (got {options.Threads})");
        Space = space; Options = options; WorkDir = workDir;
    }

    public IReadOnlyCollection<string> MetricNames { get; } = new[] { Metrics.ValidName, Metrics.LatencyName, Metrics.CostName, CpuSecondsName, ComputeSecondsName, WallSecondsName, ValLossName };

    /// <summary>
    /// The search's pick: feasible first, then the highest validation accuracy, then (accuracy ties are
    /// common on small validation splits) the lowest validation loss, then the earliest candidate.
    /// </summary>
    public static Evaluated<int[]>? Winner(SearchContext<int[]> ctx) =>
        ctx.History.OrderBy(e => ctx.Problem.Violation(e.Metrics))
            .ThenByDescending(e => double.IsNaN(e.Metrics.Valid) ? double.NegativeInfinity : e.Metrics.Valid)
            .ThenBy(e => e.Metrics.Get(ValLossName) is var l && double.IsNaN(l) ? double.PositiveInfinity : l)
            .ThenBy(e => e.Index)
            .FirstOrDefault();

    public Architecture Build(int[] a) => Space.Space.Build(a, $"{Space.Space.Name}:{Space.Key(a)}");

    public Metrics Evaluate(int[] a)
    {
        string dir = Path.Combine(WorkDir, ScratchFolder);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        string archFile = Path.Combine(dir, "candidate-arch.json");
        ArchJson.Save(Build(a), archFile);
        var cfg = TrainRecipe.Config(archFile, Options.Data, Options.Subset, Options.Threads, Options.Epochs, Options.BatchSize, Options.Seed);
        cfg = cfg with { Train = cfg.Train with { BnRecalibrationBatches = Options.BnRecalibration } };
        var cpuClock = ProcessCpuClock.Start();
        var sw = Stopwatch.StartNew();
        RunSummary s;
        double valLoss;
        using (var run = TrainingRun.Prepare(cfg, dir))
        {
            run.EvaluateTest = false;
            run.StepEnd = StepEnd;
            s = run.Run();
            // validation loss of the (first) epoch with the best validation accuracy: the tie-break of Winner
            valLoss = run.Trainer!.State.History.Where(m => m.ValAcc == s.BestValAcc).Select(m => m.ValLoss ?? double.NaN).FirstOrDefault(double.NaN);
        }
        sw.Stop();
        double cpu = cpuClock.Seconds;
        Directory.Delete(dir, recursive: true);
        if (s.BestValAcc is not double acc || double.IsNaN(acc))
            throw new TailorException($"candidate {Space.Key(a)}: training produced no validation accuracy");
        return new Metrics
        {
            Valid = acc, Latency = Space.Latency(a), Cost = cpu / Options.Threads,
            Extra = new Dictionary<string, double>
            {
                [CpuSecondsName] = cpu, [ComputeSecondsName] = cpu / Options.Threads, [WallSecondsName] = sw.Elapsed.TotalSeconds, [ValLossName] = valLoss,
            },
        };
    }
}
