using System.Text.Json.Serialization;

namespace Tailor.Training;

/// <summary>Optimisation settings of one training run (what <see cref="Trainer"/> needs).</summary>
public sealed record TrainConfig
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 128;
    /// <summary>sgd (with momentum), rmsprop (PyTorch's), rmsprop-tf (TF1's: eps inside the root, ms starts at 1), adam.</summary>
    public string Optimizer { get; init; } = "sgd";
    public double Lr { get; init; } = 0.05;
    /// <summary>SGD and RMSProp momentum; Adam's beta1 is fixed at 0.9.</summary>
    public double Momentum { get; init; } = 0.9;
    public bool Nesterov { get; init; }
    public double WeightDecay { get; init; } = 4e-5;
    public double LabelSmoothing { get; init; } = 0.1;
    /// <summary>cosine, step or constant; per optimisation step.</summary>
    public string Schedule { get; init; } = "cosine";
    public double WarmupEpochs { get; init; }
    /// <summary>Step schedule: epochs between decays (default: a third of the epochs).</summary>
    public double? StepEpochs { get; init; }
    public double Gamma { get; init; } = 0.1;
    public long Seed { get; init; }
    /// <summary>
    /// Before each validation, reset every BatchNorm's running statistics and recompute them as plain
    /// averages over this many training batches (train mode, no gradients; the data order is not
    /// changed). 0 = off. Short trainings need it: BN running averages (momentum 0.1) still carry the
    /// huge activations of the first steps after one epoch of 42 steps, and the eval-mode network then
    /// predicts one class (10% validation accuracy for every candidate) while training accuracy is 58%.
    /// Once-for-All recalibrates its subnets' BN statistics the same way.
    /// </summary>
    public int BnRecalibrationBatches { get; init; }

    /// <summary>Checks ranges; throws <see cref="TailorException"/> naming the option.</summary>
    public TrainConfig Validate()
    {
        if (Epochs < 1) throw new TailorException($"--epochs: expected >= 1 (got {Epochs})");
        if (BatchSize < 1) throw new TailorException($"--batch: expected >= 1 (got {BatchSize})");
        if (BnRecalibrationBatches < 0) throw new TailorException($"--bn-recalibrate: expected >= 0 batches (got {BnRecalibrationBatches})");
        if (!Optimizers.Optimizers.Kinds.Contains(Optimizer))
            throw new TailorException($"--optimizer '{Optimizer}': expected one of {string.Join(", ", Optimizers.Optimizers.Kinds)}");
        OptionCheck.Positive("--lr", Lr);
        if (!(Momentum >= 0 && Momentum < 1)) throw new TailorException($"--momentum: expected 0 <= m < 1 (got {Momentum})");
        if (Nesterov && (Optimizer != "sgd" || Momentum == 0)) throw new TailorException("--nesterov: needs --optimizer sgd with a momentum > 0");
        OptionCheck.NonNegative("--weight-decay", WeightDecay);
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) throw new TailorException($"--label-smoothing: expected 0 <= s < 1 (got {LabelSmoothing})");
        if (!LrSchedule.Kinds.Contains(Schedule)) throw new TailorException($"--schedule '{Schedule}': expected one of {string.Join(", ", LrSchedule.Kinds)}");
        LrSchedule.Create(Schedule, Lr, Epochs, 1, WarmupEpochs, StepEpochs, Gamma);
        return this;
    }
}
