using System.Text.Json.Serialization;
using Tailor.Util;

namespace Tailor.Hardware;

/// <summary>Accuracy of latency predictions against measurements (LUTs and learned predictors alike).</summary>
public sealed record PredictionMetrics
{
    [JsonPropertyName("n")] public int N { get; init; }
    /// <summary>Mean absolute percentage error as a fraction.</summary>
    [JsonPropertyName("mape")] public double Mape { get; init; }
    [JsonPropertyName("rmse")] public double Rmse { get; init; }
    /// <summary>Share of predictions within +-10% (nn-Meter's figure of merit).</summary>
    [JsonPropertyName("within10")] public double Within10 { get; init; }
    [JsonPropertyName("within5")] public double Within5 { get; init; }
    [JsonPropertyName("kendall_tau")] public double KendallTau { get; init; }
    /// <summary>Mean signed relative error (prediction - actual) / actual: the bias.</summary>
    [JsonPropertyName("bias")] public double Bias { get; init; }

    public static PredictionMetrics Of(IReadOnlyList<double> predicted, IReadOnlyList<double> actual) => new()
    {
        N = actual.Count,
        Mape = Stats.Mape(predicted, actual),
        Rmse = Stats.Rmse(predicted, actual),
        Within10 = Stats.WithinK(predicted, actual, 0.10),
        Within5 = Stats.WithinK(predicted, actual, 0.05),
        KendallTau = Stats.KendallTauB(predicted, actual),
        Bias = predicted.Zip(actual, (p, a) => (p - a) / a).Average(),
    };

    public override string ToString() =>
        $"n={N} MAPE {Mape * 100:F2}%  RMSE {Rmse:G4}  within10 {Within10 * 100:F1}%  tau {KendallTau:F3}  bias {Bias * 100:+0.00;-0.00}%";
}
