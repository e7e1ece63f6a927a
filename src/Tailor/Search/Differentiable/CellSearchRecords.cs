using System.Text.Json.Serialization;

namespace Tailor.Search.Differentiable;

/// <summary>What one epoch of a cell search ended with: the derived cell and how the table scores it.</summary>
public sealed record EpochRecord
{
    [JsonPropertyName("epoch")] public int Epoch { get; init; }
    [JsonPropertyName("phase")] public string Phase { get; init; } = "search";
    [JsonPropertyName("genotype")] public string? Genotype { get; init; }
    [JsonPropertyName("table_valid")] public double? TableValid { get; init; }
    [JsonPropertyName("table_test")] public double? TableTest { get; init; }
    [JsonPropertyName("table_latency_ms")] public double? TableLatency { get; init; }
    [JsonPropertyName("predicted_latency_ms")] public double? PredictedLatency { get; init; }
    [JsonPropertyName("train_loss")] public double? TrainLoss { get; init; }
    [JsonPropertyName("train_acc")] public double? TrainAcc { get; init; }
    [JsonPropertyName("val_loss")] public double? ValLoss { get; init; }
    [JsonPropertyName("val_acc")] public double? ValAcc { get; init; }
    [JsonPropertyName("lr")] public double Lr { get; init; }
    [JsonPropertyName("tau")] public double? Tau { get; init; }
    [JsonPropertyName("skip_weight")] public double? SkipWeight { get; init; }
    [JsonPropertyName("expected_depth")] public double[]? ExpectedDepth { get; init; }
    [JsonPropertyName("depth_loss")] public double? DepthLoss { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
}

/// <summary>One alpha snapshot: softmax weights of a cell group after an architecture step.</summary>
public sealed record AlphaRow(
    [property: JsonPropertyName("step")] int Step,
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("group")] int Group,
    [property: JsonPropertyName("w")] float[] W);

/// <summary>A DARTS-PT decision: supernet validation accuracy with each candidate removed, and the one kept.</summary>
public sealed record ProjectionRecord
{
    [JsonPropertyName("kind")] public string Kind { get; init; } = "op";
    [JsonPropertyName("group")] public int Group { get; init; }
    /// <summary>op: the edge; topology: the node (0-based intermediate node).</summary>
    [JsonPropertyName("target")] public int Target { get; init; }
    [JsonPropertyName("candidates")] public int[] Candidates { get; init; } = Array.Empty<int>();
    [JsonPropertyName("names")] public string[] Names { get; init; } = Array.Empty<string>();
    [JsonPropertyName("accuracy_without")] public double[] AccuracyWithout { get; init; } = Array.Empty<double>();
    [JsonPropertyName("base_accuracy")] public double BaseAccuracy { get; init; }
    [JsonPropertyName("selected")] public int[] Selected { get; init; } = Array.Empty<int>();
}

/// <summary>The resumable state of a search (saved with the tensors at each epoch's end).</summary>
public sealed class SearchState
{
    [JsonPropertyName("format")] public string Format { get; set; } = "tailor-cellsearch-state";
    [JsonPropertyName("version")] public int Version { get; set; } = 1;
    [JsonPropertyName("options")] public CellSearchOptions Options { get; set; } = new();
    [JsonPropertyName("complete")] public bool Complete { get; set; }
    [JsonPropertyName("epochs_done")] public int EpochsDone { get; set; }
    [JsonPropertyName("arch_steps")] public int ArchSteps { get; set; }
    [JsonPropertyName("weight_steps")] public int WeightSteps { get; set; }
    [JsonPropertyName("adam_steps")] public long AdamSteps { get; set; }
    [JsonPropertyName("seconds")] public double Seconds { get; set; }
    [JsonPropertyName("epochs")] public List<EpochRecord> Epochs { get; set; } = new();
    [JsonPropertyName("alpha")] public List<AlphaRow> Alpha { get; set; } = new();
    // DARTS-PT
    [JsonPropertyName("pt_order")] public List<int[]>? PtOrder { get; set; }
    [JsonPropertyName("pt_done")] public int PtDone { get; set; }
    [JsonPropertyName("pt_fixed_ops")] public int[][]? FixedOps { get; set; }
    [JsonPropertyName("pt_keep_edges")] public int[][][]? KeepEdges { get; set; }
    [JsonPropertyName("pt_projections")] public List<ProjectionRecord> Projections { get; set; } = new();
    [JsonPropertyName("magnitude_genotype")] public string? MagnitudeGenotype { get; set; }
    [JsonPropertyName("magnitude_cells")] public List<string>? MagnitudeCells { get; set; }
    // H-DAS
    [JsonPropertyName("hdas_cells")] public List<string>? HdasCells { get; set; }
    [JsonPropertyName("hdas_stage_epochs_done")] public int HdasStageEpochsDone { get; set; }
    [JsonPropertyName("hdas_stage_adam_steps")] public long HdasStageAdamSteps { get; set; }
    /// <summary>The derived H-DAS network (tailor-cellnet JSON) after the last stage epoch.</summary>
    [JsonPropertyName("hdas_network")] public string? HdasNetwork { get; set; }
}

/// <summary>Progress of a running search (for progress bars).</summary>
public sealed record SearchProgress(string Phase, int Epoch, int Epochs, int Step, int Steps, string? Message = null);
