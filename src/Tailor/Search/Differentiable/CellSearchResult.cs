using System.Text.Json.Serialization;
using Tailor.Models.Cells;

namespace Tailor.Search.Differentiable;

/// <summary>Table scores of one cell (or the mean over H-DAS's stage cells).</summary>
public sealed record TableScore(
    [property: JsonPropertyName("genotype")] string Genotype,
    [property: JsonPropertyName("table_valid")] double TableValid,
    [property: JsonPropertyName("table_test")] double TableTest,
    [property: JsonPropertyName("table_latency_ms")] double? TableLatency);

/// <summary>Structural checks of a derived cell.</summary>
public sealed record CellChecks(
    [property: JsonPropertyName("connected")] bool Connected,
    [property: JsonPropertyName("has_parameters")] bool HasParameters,
    [property: JsonPropertyName("two_distinct_inputs_per_node")] bool? TwoInputs,
    [property: JsonPropertyName("ops_in_space")] bool OpsInSpace);

/// <summary>
/// How settled the derived cell was: over the epochs that trained alpha ("search" phase), how many distinct cells
/// the argmax derived, in how many of them the final cell, and for how many epochs at the end in a row. A search
/// whose final cell appeared only in its last epoch decided by noise (GDAS on a few thousand images, bench/README.md).
/// </summary>
public sealed record CellStability(
    [property: JsonPropertyName("search_epochs")] int SearchEpochs,
    [property: JsonPropertyName("distinct_cells")] int DistinctCells,
    [property: JsonPropertyName("epochs_with_final_cell")] int EpochsWithFinalCell,
    [property: JsonPropertyName("final_cell_streak")] int FinalCellStreak)
{
    /// <summary>Null when no search-phase epoch derived a cell (e.g. DARTS-PT with fixed alpha).</summary>
    public static CellStability? Of(IEnumerable<EpochRecord> epochs, string finalGenotype)
    {
        var g = epochs.Where(e => e.Phase == "search" && e.Genotype != null).Select(e => e.Genotype!).ToList();
        if (g.Count == 0) return null;
        int streak = 0;
        for (int i = g.Count - 1; i >= 0 && g[i] == finalGenotype; i--) streak++;
        return new CellStability(g.Count, g.Distinct().Count(), g.Count(x => x == finalGenotype), streak);
    }
}

/// <summary>What a cell search hands back (summary.json).</summary>
public sealed record CellSearchResult
{
    [JsonPropertyName("method")] public string Method { get; init; } = "";
    [JsonPropertyName("space")] public string Space { get; init; } = "";
    [JsonPropertyName("seed")] public long Seed { get; init; }
    [JsonPropertyName("genotype")] public string Genotype { get; init; } = "";
    [JsonPropertyName("table_valid")] public double? TableValid { get; init; }
    [JsonPropertyName("table_test")] public double? TableTest { get; init; }
    [JsonPropertyName("table_latency_ms")] public double? TableLatency { get; init; }
    [JsonPropertyName("latency_column")] public string? LatencyColumn { get; init; }
    [JsonPropertyName("search_seconds")] public double SearchSeconds { get; init; }
    [JsonPropertyName("epochs")] public int Epochs { get; init; }
    [JsonPropertyName("arch_steps")] public int ArchSteps { get; init; }
    [JsonPropertyName("cell_stability")] public CellStability? Stability { get; init; }
    [JsonPropertyName("random_test_mean")] public double? RandomTestMean { get; init; }
    [JsonPropertyName("random_test_median")] public double? RandomTestMedian { get; init; }
    [JsonPropertyName("stage_cells")] public IReadOnlyList<TableScore>? StageCells { get; init; }
    [JsonPropertyName("magnitude")] public TableScore? Magnitude { get; init; }
    [JsonPropertyName("magnitude_genotype")] public string? MagnitudeGenotype { get; init; }
    [JsonPropertyName("projections")] public IReadOnlyList<ProjectionRecord>? Projections { get; init; }
    [JsonPropertyName("checks")] public CellChecks? Checks { get; init; }
    [JsonPropertyName("network_params")] public long NetworkParams { get; init; }
    [JsonPropertyName("network_macs")] public long NetworkMacs { get; init; }
    [JsonPropertyName("network")] public string NetworkJson { get; init; } = "";
    [JsonPropertyName("final_skip_weight")] public double? FinalSkipWeight { get; init; }
    [JsonPropertyName("latency_predictor")] public object? LatencyPredictor { get; init; }
    [JsonPropertyName("expected_depth")] public double[]? ExpectedDepth { get; init; }
    [JsonPropertyName("options")] public CellSearchOptions Options { get; init; } = new();

    internal static CellSearchResult From(CellSearch s)
    {
        var o = s.Options;
        var st = s.State;
        var d = s.CurrentCells();
        string genotype = d.Genotype(s);
        double? tv = null, tt = null, tl = null, rm = null, rmed = null;
        List<TableScore>? stageCells = null;
        TableScore? magnitude = null;
        CellChecks? checks;
        CellNetSpec network;
        if (d.Nb201 != null)
        {
            (tv, tt, tl) = s.Score(d.Nb201);
            (rm, rmed) = s.Table!.RandomBaseline(test: true);
            if (d.Nb201.Count > 1)
                stageCells = d.Nb201.Select(c => { var r = s.Table!.Lookup(c); return new TableScore(c.ToString(), r.Valid, r.Test, r.Latency); }).ToList();
            checks = new CellChecks(d.Nb201.All(c => c.Connected()), d.Nb201.All(c => c.HasParametricPath()), null, true);
            network = d.Nb201.Count == 1 ? CellNetSpec.Nb201(d.Nb201[0]) : CellNetSpec.Nb201(d.Nb201, 16, 5);
            if (st.MagnitudeGenotype != null)
            {
                var mc = Nb201Cell.Parse(st.MagnitudeGenotype);
                var r = s.Table!.Lookup(mc);
                magnitude = new TableScore(mc.ToString(), r.Valid, r.Test, r.Latency);
            }
        }
        else
        {
            var cells = d.Darts!;
            bool two = cells.All(c => Enumerable.Range(0, DartsCell.Steps).All(n => c.Nodes[2 * n].Input != c.Nodes[2 * n + 1].Input));
            checks = new CellChecks(true, cells.All(c => c.Nodes.Any(p => DartsCell.OpNames[p.Op].Contains("conv"))), two, cells.All(c => c.Nodes.All(p => p.Op > 0 && p.Op < DartsCell.OpNames.Length)));
            if (o.Method == "hdas" && st.HdasNetwork != null) network = CellNetJson.Parse(st.HdasNetwork, "hdas network");
            else if (cells.Count == 2) network = CellNetSpec.Darts(new DartsGenotype(cells[0], cells[1]));
            else
                network = new CellNetSpec
                {
                    Name = "hdas-cells", Space = "darts", Channels = 16, StemMultiplier = 3,
                    Stages = Enumerable.Range(0, 3).Select(i => new CellStage { Cells = 2, Cell = cells[i].ToString() }).ToArray(),
                    Reductions = new[] { cells[3].ToString(), cells[4].ToString() },
                };
        }
        var counts = CellNetCount.Count(network);
        object? lat = s.Latency is { } m ? new { column = m.Column, lambda = o.LatencyLambda, within_10pct = m.Within10, mean_abs_pct_error = m.MeanAbsPctError } : null;
        return new CellSearchResult
        {
            Method = o.Method + (o.SecondOrder ? "-2nd" : "") + (o.FixAlpha ? "-fix-alpha" : ""), Space = o.Space, Seed = o.Seed,
            Genotype = genotype, TableValid = tv, TableTest = tt, TableLatency = tl,
            LatencyColumn = d.Nb201 != null ? s.Table!.LatencyColumn : null,
            SearchSeconds = Math.Round(st.Seconds, 2), Epochs = st.EpochsDone, ArchSteps = st.ArchSteps,
            Stability = CellStability.Of(st.Epochs, genotype),
            RandomTestMean = rm, RandomTestMedian = rmed, StageCells = stageCells, Magnitude = magnitude,
            MagnitudeGenotype = st.MagnitudeGenotype,
            Projections = st.Projections.Count > 0 ? st.Projections : null, Checks = checks,
            NetworkParams = counts.Params, NetworkMacs = counts.Macs, NetworkJson = CellNetJson.Write(network),
            FinalSkipWeight = st.Epochs.LastOrDefault(e => e.SkipWeight.HasValue)?.SkipWeight,
            LatencyPredictor = lat,
            ExpectedDepth = st.Epochs.LastOrDefault(e => e.ExpectedDepth != null)?.ExpectedDepth,
            Options = o,
        };
    }
}
