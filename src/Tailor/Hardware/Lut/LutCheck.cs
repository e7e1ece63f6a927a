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
    /// <summary>With the calibration refitted on the calibration networks measured in the same rounds (null unless asked).</summary>
    [JsonPropertyName("recalibrated_ms")] public double? RecalibratedMs { get; init; }
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
    /// <summary>With the calibration refitted at check time on the table's calibration networks (not on the checked ones), interleaved with them.</summary>
    [JsonPropertyName("recalibrated")] public PredictionMetrics? Recalibrated { get; init; }
    /// <summary>Median ratio of the calibration networks' time now to their time when the table was built, minus 1 (machine drift).</summary>
    [JsonPropertyName("drift")] public double? Drift { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonPropertyName("load_avg_start")] public double? LoadAvgStart { get; init; }
    [JsonPropertyName("load_avg_end")] public double? LoadAvgEnd { get; init; }
    [JsonPropertyName("rows")] public List<LutCheckSample> Rows { get; init; } = new();
}

/// <summary>Measures random architectures of the table's space end to end and scores the table's predictions.</summary>
public static class LutCheck
{
    /// <param name="chunk">How many networks are loaded and measured interleaved at a time.</param>
    /// <param name="recalibrate">Also measure the table's calibration networks in the same rounds as every chunk and
    /// score a calibration refitted on them: separates the table's error from the machine's drift since it was built.</param>
    public static LutCheckResult Run(Lut lut, LayeredSpace space, ILatencyTarget target, int samples, int seed = 1,
        MeasureOptions? measure = null, int chunk = 100, Action<string>? log = null, bool recalibrate = false)
    {
        if (samples < 2) throw new TailorException($"lut check: need at least 2 samples (got {samples})");
        if (chunk < 1) throw new TailorException($"lut check: chunk must be >= 1 (got {chunk})");
        if (recalibrate && lut.Calibration.Networks < 2) throw new TailorException("lut check: --recalibrate needs a table calibrated on at least 2 networks");
        lut.Verify(space, lut.InputShape, target);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        double? load0 = MachineInfo.LoadAverage();
        var rng = new Random(seed);
        var choices = Enumerable.Range(0, samples).Select(_ => space.Sample(rng)).ToList();
        var calib = recalibrate ? LutBuilder.CalibrationChoices(space, lut.Calibration.Networks, lut.Calibration.Seed) : new List<int[]>();
        var input = lut.InputShape;
        var rows = new List<LutCheckSample>();
        var drift = new List<double>();
        for (int s = 0; s < samples; s += chunk)
        {
            var part = choices.Skip(s).Take(chunk).ToList();
            var all = part.Concat(calib).ToList();
            var m = ArchLatencies.MeasureMany(target, all.Select(c => space.Build(c).WithInput(input)).ToList(), lut.Batch, measure ?? lut.Measure);
            LutCalibration? now = null;
            if (calib.Count > 0)
            {
                var cm = m.Skip(part.Count).Select(x => x.MedianMs).ToArray();
                now = LutCalibration.Fit(calib, calib.Select(c => lut.PredictRaw(c, space)).ToArray(), cm, lut.Calibration.Seed);
                if (lut.Calibration.Samples.Count == calib.Count)
                    drift.AddRange(cm.Select((x, i) => x / lut.Calibration.Samples[i].MeasuredMs));
            }
            for (int i = 0; i < part.Count; i++)
            {
                double raw = lut.PredictRaw(part[i], space);
                rows.Add(new LutCheckSample
                {
                    Choices = string.Join(' ', part[i].Select((c, l) => space.Choices(l)[c].Name)),
                    RawMs = raw, PredictedMs = lut.Predict(part[i], space),
                    MeasuredMs = m[i].MedianMs, MeasuredIqrMs = m[i].IqrMs,
                    RecalibratedMs = now == null ? null : now.A + now.B * raw,
                });
            }
            log?.Invoke($"lut check: {rows.Count}/{samples} measured");
        }
        var measured = rows.Select(r => r.MeasuredMs).ToArray();
        return new LutCheckResult
        {
            Space = lut.Space, Input = lut.Input, Target = target.Spec, Machine = MachineInfo.Current.ToString(), Samples = samples, Seed = seed,
            Raw = PredictionMetrics.Of(rows.Select(r => r.RawMs).ToArray(), measured),
            Calibrated = PredictionMetrics.Of(rows.Select(r => r.PredictedMs).ToArray(), measured),
            Recalibrated = recalibrate ? PredictionMetrics.Of(rows.Select(r => r.RecalibratedMs!.Value).ToArray(), measured) : null,
            Drift = drift.Count > 0 ? Tailor.Util.Stats.Median(drift) - 1 : null,
            Seconds = sw.Elapsed.TotalSeconds, LoadAvgStart = load0, LoadAvgEnd = MachineInfo.LoadAverage(), Rows = rows,
        };
    }
}
