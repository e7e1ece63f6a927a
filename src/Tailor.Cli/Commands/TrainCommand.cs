using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Tailor.Data;
using Tailor.Training;

namespace Tailor.Cli.Commands;

/// <summary>`tailor train`: train an architecture on a dataset, with checkpoints and resume.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var dc = new RunConfig();
        var tc = new TrainConfig();
        var arch = new Option<string?>("--arch") { Description = "Architecture: a JSON file or zoo:NAME (see 'tailor zoo list'); its input shape and classes are replaced by the dataset's" };
        var data = new Option<string>("--data") { Description = $"Dataset: {Datasets.SpecHelp}. fashion-mnist is found in $TAILOR_DATA[/fashion-mnist] or {Datasets.FashionMnistSystemDir}; cifar10 in $TAILOR_DATA/cifar-10-batches-bin", DefaultValueFactory = _ => dc.Data };
        var epochs = new Option<int>("--epochs") { Description = "Epochs to train (with --resume: the new total)", DefaultValueFactory = _ => tc.Epochs };
        var output = new Option<string?>("--out") { Description = "Output folder: checkpoint.pt (every epoch), metrics.csv, events.out.tfevents.*, run.json, arch.json, weights.bin" };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last checkpoint (same configuration; bit-identical to an uninterrupted run at the same thread count)" };
        var width = new Option<double>("--width") { Description = "Width multiplier: channels x W rounded to multiples of 8, head kept at >= its width (MobileNetV2 convention)", DefaultValueFactory = _ => dc.Width };
        var subset = new Option<int?>("--subset") { Description = "Use only N images of the training file (stratified, by seed), before the validation split; for quick runs" };
        var valSplit = new Option<string>("--val-split") { Description = "Validation images taken from the training images: a fraction (0.1) or a count (5000); 0 for none", DefaultValueFactory = _ => dc.ValSplit };
        var augment = new Option<string>("--augment") { Description = "auto: random crop (4-pixel padding) + horizontal flip for CIFAR-10, none for IDX sets; none; crop-flip", DefaultValueFactory = _ => dc.Augment };
        augment.AcceptOnlyFromAmong(RunConfig.Augments);
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => tc.BatchSize };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd (momentum), rmsprop (PyTorch, alpha 0.9, eps 1e-3), rmsprop-tf (TF1: eps inside the root, mean square starts at 1), adam", DefaultValueFactory = _ => tc.Optimizer };
        optimizer.AcceptOnlyFromAmong(Training.Optimizers.Optimizers.Kinds);
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => tc.Lr };
        var momentum = new Option<double>("--momentum") { Description = "Momentum of sgd, rmsprop and rmsprop-tf", DefaultValueFactory = _ => tc.Momentum };
        var nesterov = new Option<bool>("--nesterov") { Description = "Nesterov momentum (sgd)" };
        var wd = new Option<double>("--weight-decay") { Description = "L2 weight decay on all parameters", DefaultValueFactory = _ => tc.WeightDecay };
        var smoothing = new Option<double>("--label-smoothing") { Description = "Label smoothing of the cross-entropy loss", DefaultValueFactory = _ => tc.LabelSmoothing };
        var schedule = new Option<string>("--schedule") { Description = "Learning-rate schedule per step: cosine (to 0), step (x gamma every --step-epochs), constant", DefaultValueFactory = _ => tc.Schedule };
        schedule.AcceptOnlyFromAmong(LrSchedule.Kinds);
        var warmup = new Option<double>("--warmup-epochs") { Description = "Linear warmup from 0 over this many epochs (fractions allowed)", DefaultValueFactory = _ => tc.WarmupEpochs };
        var stepEpochs = new Option<double?>("--step-epochs") { Description = "Step schedule: epochs between decays (default: a third of --epochs)" };
        var gamma = new Option<double>("--gamma") { Description = "Step schedule: decay factor", DefaultValueFactory = _ => tc.Gamma };
        var bnRecal = new Option<int>("--bn-recalibrate") { Description = "Before each validation, recompute BatchNorm statistics over this many training batches (0: off; helps very short trainings)", DefaultValueFactory = _ => tc.BnRecalibrationBatches };
        var seed = new Option<long>("--seed") { Description = "Seed of weights, split, data order, augmentation and dropout: same seed, same result", DefaultValueFactory = _ => tc.Seed };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (default: one per core)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var device = new Option<string>("--device") { Description = "cpu or cuda (cuda needs a CUDA TorchSharp package referenced instead of TorchSharp-cpu)", DefaultValueFactory = _ => dc.Device };
        var json = new Option<bool>("--json") { Description = "Print the final summary as JSON on stdout (progress goes to stderr)" };

        var cmd = new Command("train",
            "Train an architecture on a dataset. Writes a checkpoint every epoch (atomically), metrics.csv, a TensorBoard event file, " +
            "run.json (seed, configuration, versions, machine), arch.json and weights.bin; evaluates on the test split at the end.\n" +
            "Example: tailor train --arch zoo:mobilenet_v2 --width 0.5 --data fashion-mnist --subset 5000 --epochs 2 --out runs/t1")
        {
            arch, data, epochs, output, resume, width, subset, valSplit, augment, batch, optimizer, lr, momentum, nesterov, wd, smoothing,
            schedule, warmup, stepEpochs, gamma, bnRecal, seed, threads, device, json,
        };

        cmd.SetAction(r => Cli.Run(() =>
        {
            ThreadTuning.PreferPassiveWait(); // before libtorch loads (see ThreadTuning)
            bool Given(Option o) => r.GetResult(o) is { Implicit: false };
            bool asJson = r.GetValue(json);
            TrainingRun run;
            string? resumeDir = r.GetValue(resume);
            if (resumeDir != null)
            {
                var fixedOptions = new Option[] { arch, data, width, subset, valSplit, augment, batch, optimizer, lr, momentum, nesterov, wd, smoothing, schedule, warmup, stepEpochs, gamma, bnRecal, seed, device };
                var clash = fixedOptions.Where(Given).Select(o => o.Name).ToList();
                if (clash.Count > 0)
                    throw new TailorException($"--resume continues the saved configuration; {string.Join(", ", clash)} cannot be changed (only --epochs and --threads can)");
                string? o = r.GetValue(output);
                if (o != null && Path.GetFullPath(o).TrimEnd('/') != Path.GetFullPath(resumeDir).TrimEnd('/'))
                    throw new TailorException($"--resume {resumeDir} writes into its own folder; drop --out {o} or make it the same folder");
                run = TrainingRun.PrepareResume(resumeDir, Given(epochs) ? r.GetValue(epochs) : null, Given(threads) ? r.GetValue(threads) : null);
            }
            else
            {
                string a = r.GetValue(arch) ?? throw new TailorException("--arch is required (a JSON file or zoo:NAME), unless --resume is given");
                string o = r.GetValue(output) ?? throw new TailorException("--out is required (the folder for checkpoint, metrics and weights), unless --resume is given");
                var cfg = new RunConfig
                {
                    Arch = a, Width = r.GetValue(width), Data = r.GetValue(data)!, Subset = r.GetValue(subset),
                    ValSplit = r.GetValue(valSplit)!, Augment = r.GetValue(augment)!, Threads = r.GetValue(threads), Device = r.GetValue(device)!,
                    Train = new TrainConfig
                    {
                        Epochs = r.GetValue(epochs), BatchSize = r.GetValue(batch), Optimizer = r.GetValue(optimizer)!, Lr = r.GetValue(lr),
                        Momentum = r.GetValue(momentum), Nesterov = r.GetValue(nesterov), WeightDecay = r.GetValue(wd),
                        LabelSmoothing = r.GetValue(smoothing), Schedule = r.GetValue(schedule)!, WarmupEpochs = r.GetValue(warmup),
                        StepEpochs = r.GetValue(stepEpochs), Gamma = r.GetValue(gamma), BnRecalibrationBatches = r.GetValue(bnRecal), Seed = r.GetValue(seed),
                    },
                };
                run = TrainingRun.Prepare(cfg, o);
            }
            using (run)
            {
                var console = asJson ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }) : AnsiConsole.Console;
                using var cts = new CancellationTokenSource();
                ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
                Console.CancelKeyPress += onCancel;
                try
                {
                    var summary = Train(run, console, cts.Token);
                    if (asJson) Cli.PrintJson(JsonSerializer.SerializeToNode(summary, RunConfig.JsonOptions)!);
                    else PrintSummary(console, run, summary);
                }
                catch (OperationCanceledException)
                {
                    int done = run.Trainer?.State.Epoch ?? 0;
                    Console.Error.WriteLine(done > 0
                        ? $"interrupted: epoch {done} is saved in {Path.Combine(run.OutDir, TrainingRun.CheckpointFile)}; continue with: tailor train --resume {run.OutDir}"
                        : "interrupted before the first epoch ended; nothing to resume");
                    throw;
                }
                finally { Console.CancelKeyPress -= onCancel; }
            }
            return 0;
        }));
        return cmd;
    }

    static string Pct(double? v) => v is double d ? (100 * d).ToString("F2", CultureInfo.InvariantCulture) + "%" : "-";
    static string F(double? v, string f = "F4") => v is double d ? d.ToString(f, CultureInfo.InvariantCulture) : "-";

    internal static RunSummary Train(TrainingRun run, IAnsiConsole console, CancellationToken ct)
    {
        var tc = run.Config.Train;
        int first = (run.ResumeHeader?.Epoch ?? 0) + 1;
        console.MarkupLine($"[bold]{Cli.Escape(run.Architecture.Name)}[/] @ {run.Architecture.Input}, {run.Analysis.Params:N0} params, {Cli.Human(run.Analysis.Macs)} MACs; " +
                           $"{Cli.Escape(run.Source.Kind)}: {run.TrainSet.Count:N0} train / {run.ValSet?.Count ?? 0:N0} val / {run.Source.Test?.Count ?? 0:N0} test; " +
                           $"{tc.Optimizer} lr {tc.Lr} {tc.Schedule}, batch {tc.BatchSize}, {run.Config.EffectiveThreads} threads on {run.Device}" +
                           (run.Resuming ? $"; resuming at epoch {first}" : ""));
        if (!console.Profile.Capabilities.Interactive) return TrainPlain(run, console, ct);
        RunSummary? summary = null;
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                run.StepEnd = p =>
                {
                    if (task == null || p.StepInEpoch == 1 && task.IsFinished)
                        task = ctx.AddTask($"epoch {p.Epoch + 1}/{tc.Epochs}", maxValue: p.StepsPerEpoch);
                    task.Value = p.StepInEpoch;
                    task.Description = $"epoch {p.Epoch + 1}/{tc.Epochs} loss {p.RunningLoss:F3} acc {100 * p.RunningAcc:F1}% {p.ImagesPerSecond:F0} img/s" +
                                       (p.StepInEpoch == p.StepsPerEpoch && run.ValSet != null ? " (validating)" : "");
                };
                run.EpochEnd = m =>
                {
                    if (task == null) return;
                    task.Description = $"epoch {m.Epoch}/{tc.Epochs} loss {m.TrainLoss:F3} acc {100 * m.TrainAcc:F1}% val {Pct(m.ValAcc)} {m.ImagesPerSecond:F0} img/s";
                    task.StopTask();
                };
                ProgressTask? phase = null;
                run.Phase = msg => { phase = ctx.AddTask(Cli.Escape(msg), maxValue: 1); phase.IsIndeterminate = true; };
                summary = run.Run(ct);
                if (phase != null) { phase.IsIndeterminate = false; phase.Value = 1; phase.StopTask(); }
            });
        return summary!;
    }

    /// <summary>Without a terminal (redirected output): a line every tenth of an epoch and per epoch.</summary>
    static RunSummary TrainPlain(TrainingRun run, IAnsiConsole console, CancellationToken ct)
    {
        var tc = run.Config.Train;
        int lastDecile = -1;
        run.StepEnd = p =>
        {
            int decile = p.StepInEpoch * 10 / p.StepsPerEpoch;
            if (decile == lastDecile || p.StepInEpoch == p.StepsPerEpoch) return;
            lastDecile = decile;
            var eta = p.ImagesPerSecond > 0 ? TimeSpan.FromSeconds((p.StepsPerEpoch - p.StepInEpoch) * p.Elapsed.TotalSeconds / p.StepInEpoch) : TimeSpan.Zero;
            console.WriteLine($"epoch {p.Epoch + 1}/{tc.Epochs} step {p.StepInEpoch}/{p.StepsPerEpoch}  loss {p.RunningLoss:F3}  acc {100 * p.RunningAcc:F1}%  {p.ImagesPerSecond:F0} img/s  ETA {eta:mm\\:ss}");
        };
        run.EpochEnd = m =>
        {
            lastDecile = -1;
            console.WriteLine($"epoch {m.Epoch}/{tc.Epochs} done  loss {m.TrainLoss:F3}  acc {Pct(m.TrainAcc)}  val loss {F(m.ValLoss)}  val acc {Pct(m.ValAcc)}  {m.ImagesPerSecond:F0} img/s  {m.Seconds:F1}s");
        };
        run.Phase = msg => console.WriteLine(msg);
        return run.Run(ct);
    }

    internal static void PrintSummary(IAnsiConsole console, TrainingRun run, RunSummary s)
    {
        var t = new Table().Title("training").AddColumns("epoch", "lr", "train loss", "train acc", "val loss", "val acc", "img/s", "seconds");
        foreach (var m in run.Trainer!.State.History)
            t.AddRow(m.Epoch.ToString(), m.Lr >= 1e-3 ? m.Lr.ToString("F4", CultureInfo.InvariantCulture) : m.Lr.ToString("0.00e0", CultureInfo.InvariantCulture), F(m.TrainLoss), Pct(m.TrainAcc), F(m.ValLoss), Pct(m.ValAcc),
                m.ImagesPerSecond.ToString("F0", CultureInfo.InvariantCulture), m.Seconds.ToString("F1", CultureInfo.InvariantCulture));
        console.Write(t);
        var g = new Table().Title("summary").AddColumns("", "");
        g.AddRow("architecture", $"{Cli.Escape(s.Arch)} @ {s.Input}, {s.Classes} classes");
        g.AddRow("params / MACs", $"{s.Params:N0} / {Cli.Human(s.Macs)}");
        g.AddRow("data", $"{Cli.Escape(s.Data)}: {s.TrainImages:N0} train, {s.ValImages:N0} val, {s.TestImages:N0} test");
        g.AddRow("best val acc", Pct(s.BestValAcc));
        g.AddRow("test acc", s.TestAcc is null ? "- (no test split)" : $"{Pct(s.TestAcc)} (loss {F(s.TestLoss)})");
        g.AddRow("throughput", $"{s.ImagesPerSecond:F0} img/s ({s.Threads} threads, {s.Device}), {s.TrainSeconds:F1} s training");
        g.AddRow("output", Cli.Escape(s.Out));
        console.Write(g);
    }
}
