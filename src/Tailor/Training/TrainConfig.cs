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

    /// <summary>Checks ranges; throws <see cref="TailorException"/> naming the option.</summary>
    public TrainConfig Validate()
    {
        if (Epochs < 1) throw new TailorException($"--epochs: expected >= 1 (got {Epochs})");
        if (BatchSize < 1) throw new TailorException($"--batch: expected >= 1 (got {BatchSize})");
        if (!Optimizers.Optimizers.Kinds.Contains(Optimizer))
            throw new TailorException($"--optimizer '{Optimizer}': expected one of {string.Join(", ", Optimizers.Optimizers.Kinds)}");
        if (!(Lr > 0) || double.IsInfinity(Lr)) throw new TailorException($"--lr: expected > 0 (got {Lr})");
        if (Momentum < 0 || Momentum >= 1) throw new TailorException($"--momentum: expected 0 <= m < 1 (got {Momentum})");
        if (Nesterov && (Optimizer != "sgd" || Momentum == 0)) throw new TailorException("--nesterov: needs --optimizer sgd with a momentum > 0");
        if (WeightDecay < 0) throw new TailorException($"--weight-decay: expected >= 0 (got {WeightDecay})");
        if (LabelSmoothing < 0 || LabelSmoothing >= 1) throw new TailorException($"--label-smoothing: expected 0 <= s < 1 (got {LabelSmoothing})");
        if (!LrSchedule.Kinds.Contains(Schedule)) throw new TailorException($"--schedule '{Schedule}': expected one of {string.Join(", ", LrSchedule.Kinds)}");
        LrSchedule.Create(Schedule, Lr, Epochs, 1, WarmupEpochs, StepEpochs, Gamma);
        return this;
    }
}
