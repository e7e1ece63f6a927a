using System.Diagnostics;
using System.Text.Json.Nodes;
using Tailor.Data;
using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DataLoader = Tailor.Data.DataLoader;

namespace Tailor.Training;

/// <summary>What hooks see during one optimisation step.</summary>
public sealed class StepContext
{
    public required nn.Module<Tensor, Tensor> Model { get; init; }
    /// <summary>The input batch (on the training device).</summary>
    public required Tensor Images { get; init; }
    public required Tensor Labels { get; init; }
    /// <summary>The model's output for <see cref="Images"/> (training mode, with grad).</summary>
    public required Tensor Logits { get; init; }
    /// <summary>0-based epoch and global step (the schedule's clock) of this step.</summary>
    public int Epoch { get; init; }
    public long Step { get; init; }
    public int StepInEpoch { get; init; }
    public int StepsPerEpoch { get; init; }
    public double Lr { get; init; }
    /// <summary>The total loss once computed (criterion + extra terms); null inside loss functions.</summary>
    public Tensor? Loss { get; internal set; }
}

/// <summary>Progress after one step, for progress bars and logs.</summary>
public readonly record struct StepProgress(int Epoch, int StepInEpoch, int StepsPerEpoch, long Step, double Lr,
    double Loss, double RunningLoss, double RunningAcc, double ImagesPerSecond, TimeSpan Elapsed);

/// <summary>
/// The training loop as a library component. Plain use: construct with a model, a config and
/// loaders, call <see cref="Fit"/>. Methods built on it customise through:
/// <list type="bullet">
/// <item><see cref="Criterion"/>: the main loss (default: cross-entropy with label smoothing; DONNA
/// replaces it with distillation from a teacher).</item>
/// <item><see cref="ExtraLosses"/>: terms added to the loss (Single-Path NAS's runtime loss).</item>
/// <item><see cref="BeforeOptimizerStep"/> / <see cref="AfterStep"/>: per-step callbacks
/// (gradient clipping, a second optimizer, threshold updates); <see cref="StepEnd"/> for progress.</item>
/// <item>the optimizer: any managed TorchSharp optimizer (see <see cref="Optimizers.Optimizers"/>).</item>
/// </list>
/// Every step runs in its own dispose scope. The learning rate follows <see cref="Schedule"/>
/// per step (each group at its initial rate times the schedule's factor). Checkpoints
/// (<see cref="SaveCheckpoint"/>) hold everything needed to resume bit-identically on the same
/// machine and thread count (dropout draws from libtorch's global generator, so nothing else in the
/// process may draw from it meanwhile).
/// </summary>
public sealed class Trainer
{
    public nn.Module<Tensor, Tensor> Model { get; }
    public TrainConfig Config { get; }
    public DataLoader Train { get; }
    public DataLoader? Val { get; }
    public optim.Optimizer Optimizer { get; }
    public Device Device { get; }
    /// <summary>The learning-rate factor per global step (times each group's initial rate), from the config.</summary>
    public LrSchedule Schedule { get; set; }
    /// <summary>Replaces <see cref="Schedule"/> when set: the factor for a global step (e.g. a method's own schedule).</summary>
    public Func<long, double>? LrFactor { get; set; }
    public TrainState State { get; } = new();

    /// <summary>The main loss of a step (a scalar tensor). Default: cross-entropy with the configured label smoothing.</summary>
    public Func<StepContext, Tensor> Criterion { get; set; }
    /// <summary>Scalar terms added to the main loss, each given the step context.</summary>
    public List<Func<StepContext, Tensor>> ExtraLosses { get; } = new();
    /// <summary>After backward, before the optimizer step (gradients are available).</summary>
    public Action<StepContext>? BeforeOptimizerStep { get; set; }
    /// <summary>After the optimizer step, still inside the step's dispose scope.</summary>
    public Action<StepContext>? AfterStep { get; set; }
    /// <summary>After every step, with running numbers (outside the dispose scope).</summary>
    public Action<StepProgress>? StepEnd { get; set; }
    /// <summary>After every epoch (metrics already in <see cref="TrainState.History"/>).</summary>
    public Action<EpochMetrics>? EpochEnd { get; set; }
    /// <summary>
    /// Dispose the step's intermediate tensors (everything created in the step's scope except the
    /// context's images, labels, logits and loss) before backward, so that autograd frees each saved
    /// activation as soon as backward is past it and gradient buffers reuse that (cache-warm) memory,
    /// as in PyTorch where Python drops the references at the end of forward. Off by default (measured no faster here). Hooks that
    /// keep their own tensors from the forward pass or the loss past this point must detach them
    /// from the scope (<c>DetachFromDisposeScope</c>) or turn this off.
    /// </summary>
    public bool ReleaseActivationsBeforeBackward { get; set; }

    /// <summary>
    /// Feed the model channels-last batches (NCHW shape, NHWC strides). Convolutions, batch norm and
    /// activations keep that layout, and libtorch's oneDNN convolutions then run on it directly instead
    /// of reordering NCHW to a blocked layout and back around every conv; measured about 1.8x less CPU
    /// per MobileNetV2 training step (bench/README.md). Results differ from NCHW only by float rounding
    /// and are just as deterministic. Default: on for CPU.
    /// </summary>
    public bool ChannelsLast { get; set; }

    readonly double[] _initialLr;

    /// <param name="optimizer">null: <see cref="Optimizers.Optimizers.Create"/> from the config over the model's parameters.</param>
    /// <param name="device">null: CPU.</param>
    public Trainer(nn.Module<Tensor, Tensor> model, TrainConfig config, DataLoader train, DataLoader? val = null,
        optim.Optimizer? optimizer = null, Device? device = null)
    {
        Model = model;
        // with an optimizer of the caller's own, the config's optimizer name is not used
        (optimizer == null ? config : config with { Optimizer = "sgd" }).Validate();
        Config = config;
        Train = train;
        Val = val;
        Device = device ?? torch.CPU;
        ChannelsLast = Device.type == DeviceType.CPU;
        Optimizer = optimizer ?? Optimizers.Optimizers.Create(config, model.parameters());
        _initialLr = Optimizer.ParamGroups.Select(g => g.InitialLearningRate).ToArray();
        Schedule = LrSchedule.Create(config.Schedule, 1.0, config.Epochs, train.BatchCount, config.WarmupEpochs, config.StepEpochs, config.Gamma);
        State.DataRng = Rng.Derive(config.Seed, "data-order").GetState();
        double smoothing = config.LabelSmoothing;
        Criterion = ctx => nn.functional.cross_entropy(ctx.Logits, ctx.Labels, label_smoothing: smoothing);
    }

    public bool Finished => State.Epoch >= Config.Epochs;

    /// <summary>The learning rate of the first parameter group at a global step.</summary>
    public double LrAt(long step) => _initialLr.Length > 0 ? _initialLr[0] * Factor(step) : 0;

    double Factor(long step) => LrFactor?.Invoke(step) ?? Schedule.At(step);

    void SetLr(long step)
    {
        double f = Factor(step);
        int i = 0;
        foreach (var g in Optimizer.ParamGroups) g.LearningRate = _initialLr[i++] * f;
    }

    /// <summary>One optimisation step on a batch; returns (total loss, correct predictions). Public for benchmarks.</summary>
    public (double Loss, long Correct) TrainStep(Tensor images, Tensor labels, int stepInEpoch = 0)
    {
        using var scope = torch.NewDisposeScope();
        long step = State.Step;
        SetLr(step);
        var x = images.device.type == Device.type ? images : images.to(Device);
        var y = labels.device.type == Device.type ? labels : labels.to(Device);
        if (ChannelsLast) x = Models.Layers.ChannelsLast(x);
        Model.zero_grad();
        var logits = Model.call(x);
        var ctx = new StepContext
        {
            Model = Model, Images = x, Labels = y, Logits = logits, Epoch = State.Epoch, Step = step,
            StepInEpoch = stepInEpoch, StepsPerEpoch = Train.BatchCount, Lr = LrAt(step),
        };
        var loss = Criterion(ctx);
        foreach (var term in ExtraLosses) loss = loss.Plus(term(ctx));
        ctx.Loss = loss;
        if (ReleaseActivationsBeforeBackward)
        {
            // DisposeEverythingBut makes what it keeps members of the scope: keep only our own tensors,
            // never the caller's (images and labels passed in are not the scope's).
            var keep = new IDisposable[] { loss, logits, x, y }.Where(scope.Contains).ToArray();
            scope.DisposeEverythingBut(keep);
        }
        loss.backward();
        BeforeOptimizerStep?.Invoke(ctx);
        Optimizer.step();
        AfterStep?.Invoke(ctx);
        State.Step = step + 1;
        double lv = loss.item<float>();
        long correct = logits.argmax(1).eq(y).sum().item<long>();
        return (lv, correct);
    }

    /// <summary>Trains one epoch, then evaluates on the validation loader; appends and returns the metrics.</summary>
    public EpochMetrics RunEpoch(CancellationToken ct = default)
    {
        if (Finished) throw new InvalidOperationException($"all {Config.Epochs} epochs are done");
        var rng = Rng.FromState(State.DataRng);
        Model.train();
        var sw = Stopwatch.StartNew();
        double lossSum = 0; long correct = 0, seen = 0;
        int epoch = State.Epoch, steps = Train.BatchCount;
        double lastLr = LrAt(State.Step);
        foreach (var b in Train.Batches(rng))
        {
            ct.ThrowIfCancellationRequested();
            lastLr = LrAt(State.Step);
            var (l, c) = TrainStep(b.Images, b.Labels, b.Index);
            lossSum += l * b.Count; correct += c; seen += b.Count;
            StepEnd?.Invoke(new StepProgress(epoch, b.Index + 1, steps, State.Step, lastLr, l, lossSum / seen, (double)correct / seen,
                seen / Math.Max(1e-9, sw.Elapsed.TotalSeconds), sw.Elapsed));
        }
        double trainSeconds = sw.Elapsed.TotalSeconds;
        State.DataRng = rng.GetState();
        if (Val != null && Config.BnRecalibrationBatches > 0)
            RecalibrateBatchNorm(Model, Train, Config.BnRecalibrationBatches, Rng.FromState(State.DataRng), Device, ChannelsLast);
        EvalResult? val = Val != null ? Evaluate(Model, Val, Device, ChannelsLast) : null;
        var m = new EpochMetrics(epoch + 1, lastLr, lossSum / seen, (double)correct / seen, val?.Loss, val?.Accuracy,
            seen / Math.Max(1e-9, trainSeconds), sw.Elapsed.TotalSeconds);
        State.Epoch = epoch + 1;
        State.History.Add(m);
        EpochEnd?.Invoke(m);
        return m;
    }

    /// <summary>Runs the remaining epochs; <paramref name="afterEpoch"/> runs after each (checkpoint there).</summary>
    public IReadOnlyList<EpochMetrics> Fit(Action<EpochMetrics>? afterEpoch = null, CancellationToken ct = default)
    {
        while (!Finished)
        {
            var m = RunEpoch(ct);
            afterEpoch?.Invoke(m);
        }
        return State.History;
    }

    /// <summary>
    /// Resets the running statistics of every BatchNorm of <paramref name="model"/> and recomputes them as
    /// cumulative averages (momentum null) over the first <paramref name="batches"/> batches that
    /// <paramref name="loader"/> yields with <paramref name="rng"/> (the caller's copy: the training order
    /// is not affected). Train mode under no_grad; restores the mode and the momenta.
    /// </summary>
    public static void RecalibrateBatchNorm(nn.Module<Tensor, Tensor> model, DataLoader loader, int batches, Rng rng, Device? device = null, bool channelsLast = true)
    {
        var norms = model.modules().OfType<TorchSharp.Modules.NormBase>().Where(m => m.track_running_stats).ToList();
        if (norms.Count == 0 || batches <= 0) return;
        var dev = device ?? torch.CPU;
        var momenta = norms.Select(m => m.momentum).ToList();
        bool wasTraining = model.training;
        try
        {
            foreach (var m in norms) { m.reset_running_stats(); m.momentum = null; }
            model.train();
            using var _ = torch.no_grad();
            int n = 0;
            foreach (var b in loader.Batches(rng))
            {
                using var scope = torch.NewDisposeScope();
                var x = b.Images.device.type == dev.type ? b.Images : b.Images.to(dev);
                if (channelsLast) x = Models.Layers.ChannelsLast(x);
                model.call(x);
                if (++n >= batches) break;
            }
        }
        finally
        {
            for (int i = 0; i < norms.Count; i++) norms[i].momentum = momenta[i];
            model.train(wasTraining);
        }
    }

    /// <summary>Loss (cross-entropy, no smoothing) and accuracy on a loader, in eval mode under no_grad; restores the mode.</summary>
    /// <param name="channelsLast">null: on for CPU (see <see cref="ChannelsLast"/>).</param>
    public static EvalResult Evaluate(nn.Module<Tensor, Tensor> model, DataLoader loader, Device? device = null, bool? channelsLast = null)
    {
        if (loader.Shuffle || loader.Augment != Augmentation.None)
            throw new ArgumentException("evaluate on a loader without shuffling or augmentation", nameof(loader));
        var dev = device ?? torch.CPU;
        bool cl = channelsLast ?? dev.type == DeviceType.CPU;
        bool wasTraining = model.training;
        model.eval();
        double lossSum = 0; long correct = 0; int n = 0;
        try
        {
            using var _ = torch.no_grad();
            foreach (var b in loader.Batches())
            {
                using var scope = torch.NewDisposeScope();
                var x = b.Images.device.type == dev.type ? b.Images : b.Images.to(dev);
                var y = b.Labels.device.type == dev.type ? b.Labels : b.Labels.to(dev);
                if (cl) x = Models.Layers.ChannelsLast(x);
                var logits = model.call(x);
                lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(y).sum().item<long>();
                n += b.Count;
            }
        }
        finally { model.train(wasTraining); }
        return new EvalResult(lossSum / Math.Max(1, n), (double)correct / Math.Max(1, n), n, (int)correct);
    }

    /// <summary>Writes checkpoint.pt atomically (model, optimizer, schedule step, data order, RNG, history, <paramref name="meta"/>).</summary>
    public void SaveCheckpoint(string path, JsonObject? meta = null) => Checkpoint.Save(path, Model, Optimizer, State, meta);

    /// <summary>Restores a checkpoint written by <see cref="SaveCheckpoint"/> for the same model and optimizer type; returns its metadata.</summary>
    public JsonObject? LoadCheckpoint(string path)
    {
        var h = Checkpoint.Load(path, Model, Optimizer, State);
        if (h.Epoch > Config.Epochs)
            throw new TailorException($"{path}: the checkpoint is at epoch {h.Epoch}, beyond the {Config.Epochs} epochs of this run");
        return h.Meta;
    }
}
