using System.Text.Json.Serialization;
using Tailor.Arch;
using Tailor.Hardware.Latency;

namespace Tailor.Hardware.Lut;

/// <summary>One checked architecture: the table's predictions and the end-to-end measurement.</summary>
public sealed record LutCheckSample
{
    [JsonPropertyName("choices")] public string Choices { get; init; } = "";
    [JsonPropertyName("raw_ms")] public double RawMs { get; init; }
    [JsonPropertyName("predicted_ms")] public double PredictedMs { get; init; }
    [JsonPropertyName("measured_ms")] public double MeasuredMs { get; init; }
    [JsonPropertyName("measured_iqr_ms")] public double MeasuredIqrMs { get; init; }
}

public sealed record LutCheckResult
{
    [JsonPropertyName("space")] public string Space { get; init; } = "";
    [JsonPropertyName("input")] public string Input { get; init; } = "";
    [JsonPropertyName("target")] public string Target { get; init; } = "";
    [JsonPropertyName("machine")] public string Machine { get; init; } = "";
    [JsonPropertyName("samples")] public int Samples { get; init; }
    [JsonPropertyName("seed")] public int Seed { get; init; }
    /// <summary>Uncalibrated table (fixed + sum of entries).</summary>
    [JsonPropertyName("raw")] public PredictionMetrics Raw { get; init; } = new();
    /// <summary>With the table's calibration.</summary>
    [JsonPropertyName("calibrated")] public PredictionMetrics Calibrated { get; init; } = new();
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonPropertyName("load_avg_start")] public double? LoadAvgStart { get; init; }
    [JsonPropertyName("load_avg_end")] public double? LoadAvgEnd { get; init; }
    [JsonPropertyName("rows")] public List<LutCheckSample> Rows { get; init; } = new();
}

/// <summary>Measures random architectures of the table's space end to end and scores the table's predictions.</summary>
public static class LutCheck
{
    /// <param name="chunk">How many networks are loaded and measured interleaved at a time.</param>
    public static LutCheckResult Run(Lut lut, LayeredSpace space, ILatencyTarget target, int samples, int seed = 1,
        MeasureOptions? measure = null, int chunk = 25, Action<string>? log = null)
    {
        if (samples < 2) throw new TailorException($"lut check: need at least 2 samples (got {samples})");
        if (chunk < 1) throw new TailorException($"lut check: chunk must be >= 1 (got {chunk})");
        lut.Verify(space, lut.InputShape, target);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        double? load0 = MachineInfo.LoadAverage();
        var rng = new Random(seed);
        var choices = Enumerable.Range(0, samples).Select(_ => space.Sample(rng)).ToList();
        var input = lut.InputShape;
        var rows = new List<LutCheckSample>();
        for (int s = 0; s < samples; s += chunk)
        {
            var part = choices.Skip(s).Take(chunk).ToList();
            var archs = part.Select(c => space.Build(c).WithInput(input)).ToList();
            var m = ArchLatencies.MeasureMany(target, archs, lut.Batch, measure ?? lut.Measure);
            for (int i = 0; i < part.Count; i++)
                rows.Add(new LutCheckSample
                {
                    Choices = string.Join(' ', part[i].Select((c, l) => space.Choices(l)[c].Name)),
                    RawMs = lut.PredictRaw(part[i], space), PredictedMs = lut.Predict(part[i], space),
                    MeasuredMs = m[i].MedianMs, MeasuredIqrMs = m[i].IqrMs,
                });
            log?.Invoke($"lut check: {rows.Count}/{samples} measured");
        }
        var measured = rows.Select(r => r.MeasuredMs).ToArray();
        return new LutCheckResult
        {
            Space = lut.Space, Input = lut.Input, Target = target.Spec, Machine = MachineInfo.Current.ToString(), Samples = samples, Seed = seed,
            Raw = PredictionMetrics.Of(rows.Select(r => r.RawMs).ToArray(), measured),
            Calibrated = PredictionMetrics.Of(rows.Select(r => r.PredictedMs).ToArray(), measured),
            Seconds = sw.Elapsed.TotalSeconds, LoadAvgStart = load0, LoadAvgEnd = MachineInfo.LoadAverage(), Rows = rows,
        };
    }
}
