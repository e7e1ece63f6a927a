namespace Tailor.Training;

/// <summary>
/// Learning-rate schedule as a pure function of the global step (so a checkpoint needs only the
/// step): linear warmup over <see cref="WarmupSteps"/>, then cosine decay to zero, a step decay by
/// <see cref="Gamma"/> every <see cref="StepEpochs"/> epochs, or a constant rate.
/// </summary>
public sealed record LrSchedule(string Kind, double BaseLr, long TotalSteps, long StepsPerEpoch, long WarmupSteps = 0,
    double StepEpochs = 1, double Gamma = 0.1, double MinLr = 0)
{
    public static readonly string[] Kinds = { "cosine", "step", "constant" };

    public static LrSchedule Create(string kind, double baseLr, int epochs, int stepsPerEpoch, double warmupEpochs = 0,
        double? stepEpochs = null, double gamma = 0.1)
    {
        if (!Kinds.Contains(kind)) throw new TailorException($"--schedule '{kind}': expected one of {string.Join(", ", Kinds)}");
        OptionCheck.NonNegative("--warmup-epochs", warmupEpochs);
        if (warmupEpochs > epochs) throw new TailorException($"--warmup-epochs {warmupEpochs}: longer than the {epochs} epochs of training");
        double se = stepEpochs ?? Math.Max(1, Math.Round(epochs / 3.0));
        OptionCheck.Positive("--step-epochs", se);
        if (!(gamma > 0 && gamma <= 1)) throw new TailorException($"--gamma: expected 0 < gamma <= 1 (got {gamma})");
        return new LrSchedule(kind, baseLr, (long)epochs * stepsPerEpoch, stepsPerEpoch,
            (long)Math.Round(warmupEpochs * stepsPerEpoch), se, gamma);
    }

    /// <summary>The rate for optimisation step <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return BaseLr * (step + 1) / WarmupSteps;
        switch (Kind)
        {
            case "cosine":
            {
                long span = Math.Max(1, TotalSteps - WarmupSteps);
                double t = Math.Clamp((double)(step - WarmupSteps) / span, 0, 1);
                return MinLr + (BaseLr - MinLr) * 0.5 * (1 + Math.Cos(Math.PI * t));
            }
            case "step":
            {
                double epoch = (double)step / Math.Max(1, StepsPerEpoch);
                return BaseLr * Math.Pow(Gamma, Math.Floor(epoch / StepEpochs + 1e-9));
            }
            default:
                return BaseLr;
        }
    }
}
