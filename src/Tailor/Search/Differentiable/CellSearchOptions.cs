using System.Text.Json.Serialization;

namespace Tailor.Search.Differentiable;

/// <summary>
/// Everything a differentiable cell search is configured by. Defaults are the demo configuration
/// (NAS-Bench-201 space, C = 8, N = 1, the CIFAR-10 subset split 2,000 / 2,000, batch 64), which
/// finishes a search in well under 15 minutes on 2 cores (bench/README.md).
/// </summary>
public sealed record CellSearchOptions
{
    /// <summary>darts | gdas | msg-das | darts-pt | hdas.</summary>
    [JsonPropertyName("method")] public string Method { get; init; } = "darts";
    /// <summary>nb201 | darts.</summary>
    [JsonPropertyName("space")] public string Space { get; init; } = "nb201";
    [JsonPropertyName("seed")] public long Seed { get; init; }
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 10;
    [JsonPropertyName("batch")] public int Batch { get; init; } = 64;
    [JsonPropertyName("train_images")] public int TrainImages { get; init; } = 2000;
    [JsonPropertyName("val_images")] public int ValImages { get; init; } = 2000;
    /// <summary>Cap on steps per epoch (tests, benchmarks); null = one pass over the training half.</summary>
    [JsonPropertyName("steps_per_epoch")] public int? StepsPerEpoch { get; init; }
    [JsonPropertyName("augment")] public bool Augment { get; init; } = true;

    // supernet
    [JsonPropertyName("channels")] public int C { get; init; } = 8;
    /// <summary>nb201: cells per stage.</summary>
    [JsonPropertyName("cells_per_stage")] public int N { get; init; } = 1;
    /// <summary>darts space: cells in all (reductions at layers/3, 2*layers/3).</summary>
    [JsonPropertyName("layers")] public int Layers { get; init; } = 5;

    // weights: SGD, cosine schedule (NAS-Bench-201's DARTS/GDAS configs: 0.025 -> 0.001, momentum 0.9, wd 5e-4, clip 5;
    // the demo default lr is 0.05: its 150-900 steps would otherwise leave the supernet near chance)
    [JsonPropertyName("lr")] public double Lr { get; init; } = 0.05;
    [JsonPropertyName("lr_min")] public double LrMin { get; init; } = 0.001;
    [JsonPropertyName("momentum")] public double Momentum { get; init; } = 0.9;
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 5e-4;
    [JsonPropertyName("nesterov")] public bool Nesterov { get; init; }
    [JsonPropertyName("grad_clip")] public double GradClip { get; init; } = 5;

    // alpha: Adam (DARTS: lr 3e-4, betas (0.5, 0.999), wd 1e-3). The default lr is 10x DARTS's: DARTS takes ~20k
    // alpha steps on NAS-Bench-201 (50 epochs x 391), a 15-minute demo takes 300-900, so alpha would barely move.
    [JsonPropertyName("arch_lr")] public double ArchLr { get; init; } = 3e-3;
    [JsonPropertyName("arch_weight_decay")] public double ArchWeightDecay { get; init; } = 1e-3;
    [JsonPropertyName("arch_beta1")] public double ArchBeta1 { get; init; } = 0.5;
    [JsonPropertyName("arch_beta2")] public double ArchBeta2 { get; init; } = 0.999;
    /// <summary>DARTS second order (virtual step + finite-difference Hessian-vector product).</summary>
    [JsonPropertyName("second_order")] public bool SecondOrder { get; init; }

    // GDAS / MSG-DAS
    [JsonPropertyName("tau_max")] public double TauMax { get; init; } = 10;
    [JsonPropertyName("tau_min")] public double TauMin { get; init; } = 0.1;
    /// <summary>
    /// How alpha's gradient reaches the ops of a sampled edge. "gdas": GDAS's own estimator (AutoDL's
    /// forward_gdas), the sampled op's straight-through weight times its output plus the zero-valued
    /// straight-through weights of the ops not sampled (<see cref="GumbelSampler.TopKWithOthers"/>);
    /// "sampled": only the sampled ops' weights (a sampled 'none' then gives alpha no gradient at all).
    /// </summary>
    [JsonPropertyName("gumbel_grad")] public string GumbelGrad { get; init; } = "sampled";
    /// <summary>MSG-DAS: sub-graphs (ops) per edge and step.</summary>
    [JsonPropertyName("k")] public int K { get; init; } = 2;
    /// <summary>MSG-DAS: Dropblock-Identity rate on skip_connect outputs.</summary>
    [JsonPropertyName("dropblock")] public double DropBlock { get; init; } = 0.1;
    [JsonPropertyName("dropblock_size")] public int DropBlockSize { get; init; } = 3;
    /// <summary>MSG-DAS: weight of the supernet-guided distillation (0 = off).</summary>
    [JsonPropertyName("distill")] public double Distill { get; init; }
    [JsonPropertyName("distill_temperature")] public double DistillTemperature { get; init; } = 4;

    /// <summary>First epochs train the weights only (no architecture steps; sampled methods then sample uniformly).</summary>
    [JsonPropertyName("warmup_epochs")] public int WarmupEpochs { get; init; }

    // DARTS-PT
    /// <summary>DARTS-PT: train the supernet with alpha fixed to uniform (no architecture steps).</summary>
    [JsonPropertyName("fix_alpha")] public bool FixAlpha { get; init; }
    /// <summary>DARTS-PT: steps of supernet tuning (weights, and alpha unless fixed) between two projections.</summary>
    [JsonPropertyName("pt_tune_steps")] public int PtTuneSteps { get; init; } = 10;
    /// <summary>DARTS-PT: "random" (seeded) or "sequential" edge order.</summary>
    [JsonPropertyName("pt_order")] public string PtOrder { get; init; } = "random";
    /// <summary>DARTS-PT: validation batches per accuracy measurement (0 = the whole validation half).</summary>
    [JsonPropertyName("pt_eval_batches")] public int PtEvalBatches { get; init; } = 6;

    // H-DAS
    [JsonPropertyName("hdas_stage_epochs")] public int HdasStageEpochs { get; init; } = 2;
    [JsonPropertyName("hdas_max_cells")] public int HdasMaxCells { get; init; } = 3;
    [JsonPropertyName("hdas_window")] public int HdasWindow { get; init; } = 2;
    /// <summary>H-DAS: weight of the expected-depth cost term.</summary>
    [JsonPropertyName("hdas_depth_lambda")] public double HdasDepthLambda { get; init; } = 0.05;
    [JsonPropertyName("hdas_stage_arch_lr")] public double HdasStageArchLr { get; init; } = 3e-3;

    // latency-aware loss
    [JsonPropertyName("latency_lambda")] public double LatencyLambda { get; init; }
    /// <summary>NAS-Bench-201 latency column reported and (with lambda &gt; 0) predicted; "pixel3" or "latency_ms_pixel3".</summary>
    [JsonPropertyName("latency_column")] public string LatencyColumn { get; init; } = Nb201Table.DefaultLatencyColumn;

    public static readonly string[] Methods = { "darts", "gdas", "msg-das", "darts-pt", "hdas" };

    public bool UsesSoftMixing => Method is "darts" or "darts-pt" or "hdas";

    /// <summary>Checks the combination; throws a one-line TailorException.</summary>
    public void Validate()
    {
        if (!Methods.Contains(Method)) throw new TailorException($"--method '{Method}': expected one of {string.Join(", ", Methods)}");
        if (Space != "nb201" && Space != "darts") throw new TailorException($"--space '{Space}': expected nb201 or darts");
        OptionCheck.AtLeast("--epochs", Epochs, 1);
        OptionCheck.AtLeast("--batch", Batch, 2);
        OptionCheck.AtLeast("--channels", C, 1);
        if (Space == "darts" && C % 2 != 0) throw new TailorException($"--channels: the DARTS space needs an even C (got {C})");
        OptionCheck.AtLeast("--cells", N, 1);
        if (Space == "darts" && Layers < 3) throw new TailorException($"--layers: expected >= 3 for the DARTS space (got {Layers})");
        if (StepsPerEpoch is int spe) OptionCheck.AtLeast("--steps-per-epoch", spe, 1);
        OptionCheck.Positive("--lr", Lr);
        OptionCheck.Positive("--arch-lr", ArchLr);
        OptionCheck.Positive("--tau-max", TauMax);
        OptionCheck.Positive("--tau-min", TauMin);
        // GDAS anneals the temperature down (soft early, nearly hard late); a rising schedule is a swapped pair.
        if (TauMin > TauMax) throw new TailorException(FormattableString.Invariant($"--tau-min {TauMin} is above --tau-max {TauMax}: the temperature anneals from --tau-max down to --tau-min"));
        OptionCheck.NonNegative("--arch-weight-decay", ArchWeightDecay);
        if (GumbelGrad is not ("gdas" or "sampled")) throw new TailorException($"--gumbel-grad '{GumbelGrad}': expected gdas or sampled");
        int ops = Space == "nb201" ? 5 : 8;
        if (Method == "msg-das" && (K < 1 || K > ops)) throw new TailorException($"--k: expected 1..{ops} for the {Space} space (got {K})");
        if (!(DropBlock >= 0 && DropBlock < 1)) throw new TailorException(FormattableString.Invariant($"--dropblock: expected a probability in [0, 1) (got {DropBlock})"));
        if (SecondOrder && !(Method is "darts" or "hdas" || (Method == "darts-pt" && !FixAlpha)))
            throw new TailorException("--second-order applies to DARTS's soft mixing (darts, darts-pt without --fix-alpha, hdas)");
        if (FixAlpha && Method != "darts-pt") throw new TailorException("--fix-alpha applies to darts-pt only");
        if (PtOrder != "random" && PtOrder != "sequential") throw new TailorException($"--pt-order '{PtOrder}': expected random or sequential");
        OptionCheck.AtLeast("--pt-tune-steps", PtTuneSteps, 0);
        OptionCheck.AtLeast("--pt-eval-batches", PtEvalBatches, 0);
        OptionCheck.NonNegative("--distill", Distill);
        OptionCheck.NonNegative("--hdas-depth-lambda", HdasDepthLambda);
        if (WarmupEpochs < 0 || WarmupEpochs >= Epochs) throw new TailorException($"--warmup-epochs: expected 0..{Epochs - 1}, less than --epochs (got {WarmupEpochs})");
        OptionCheck.NonNegative("--latency-lambda", LatencyLambda);
        if (LatencyLambda > 0 && Space != "nb201")
            throw new TailorException("--latency-lambda: the latency predictor covers the nb201 space (its table's latency columns); the DARTS space has no latency table here");
        if (LatencyLambda > 0 && FixAlpha) throw new TailorException("--latency-lambda has no effect with --fix-alpha (alpha is not trained)");
        OptionCheck.AtLeast("--hdas-max-cells", HdasMaxCells, 1);
        OptionCheck.AtLeast("--hdas-window", HdasWindow, 1);
    }
}
