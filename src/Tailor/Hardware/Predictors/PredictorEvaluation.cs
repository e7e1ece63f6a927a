using System.Diagnostics;
using System.Text.Json.Serialization;

namespace Tailor.Hardware.Predictors;

/// <summary>Score of a predictor on the rows not used for training.</summary>
public sealed record FitResult
{
    [JsonPropertyName("model")] public string Model { get; init; } = "";
    [JsonPropertyName("encoding")] public string Encoding { get; init; } = "";
    [JsonPropertyName("csv")] public string Csv { get; init; } = "";
    [JsonPropertyName("column")] public string Column { get; init; } = "";
    [JsonPropertyName("train")] public int Train { get; init; }
    [JsonPropertyName("test")] public int Test { get; init; }
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("mape")] public double Mape { get; init; }
    [JsonPropertyName("rmse")] public double Rmse { get; init; }
    [JsonPropertyName("within10")] public double Within10 { get; init; }
    [JsonPropertyName("within5")] public double Within5 { get; init; }
    [JsonPropertyName("kendall_tau")] public double KendallTau { get; init; }
    [JsonPropertyName("bias")] public double Bias { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
}

public static class PredictorEvaluation
{
    public static readonly string[] Models = { "mlp", "gbdt" };

    public static ILatencyPredictor Fit(string model, IArchEncoding enc, IReadOnlyList<int[]> choices, IReadOnlyList<double> y, int seed) => model switch
    {
        "mlp" => MlpLatencyPredictor.Fit(enc, choices, y, seed),
        "gbdt" => GbdtLatencyPredictor.Fit(enc, choices, y, seed),
        _ => throw new TailorException($"--model '{model}': unknown; expected one of {string.Join(", ", Models)}"),
    };

    /// <summary>Random split (seeded): <paramref name="train"/> rows to fit, up to <paramref name="test"/> of the rest to score.</summary>
    public static FitResult Run(LatencyData data, string model, int train, int? test = null, int seed = 0)
    {
        if (!Models.Contains(model)) throw new TailorException($"--model '{model}': unknown; expected one of {string.Join(", ", Models)}");
        if (train < 2) throw new TailorException($"--train {train}: need at least 2 training rows");
        if (train > data.Count - 2) throw new TailorException($"--train {train}: {data.Csv} has {data.Count} rows; leave at least 2 for testing");
        if (test is int t && t < 2) throw new TailorException($"--test {t}: need at least 2 test rows");
        var sw = Stopwatch.StartNew();
        var idx = Enumerable.Range(0, data.Count).ToArray();
        new Random(seed).Shuffle(idx);
        var tr = idx.Take(train).ToArray();
        var te = idx.Skip(train).Take(test ?? int.MaxValue).ToArray();
        using var p = Fit(model, data.Encoding, tr.Select(i => data.Choices[i]).ToList(), tr.Select(i => data.Latency[i]).ToList(), seed);
        var pred = p.Predict(te.Select(i => data.Choices[i]).ToList());
        var m = PredictionMetrics.Of(pred, te.Select(i => data.Latency[i]).ToArray());
        return new FitResult
        {
            Model = model, Encoding = data.Encoding.Name, Csv = data.Csv, Column = data.Column, Train = tr.Length, Test = te.Length, Seed = seed,
            Mape = m.Mape, Rmse = m.Rmse, Within10 = m.Within10, Within5 = m.Within5, KendallTau = m.KendallTau, Bias = m.Bias,
            Seconds = sw.Elapsed.TotalSeconds,
        };
    }
}
