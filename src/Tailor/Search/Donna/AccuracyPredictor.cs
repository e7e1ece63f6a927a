using System.Text.Json.Nodes;
using Tailor.Util;

namespace Tailor.Search.Donna;

/// <summary>
/// DONNA's accuracy predictor: ridge regression acc(a) = w0 + sum_n w_n * q_{n, m_n} on the
/// per-block NSR features of an architecture. Features are standardised (mean and scale from the
/// fit set); the intercept is not penalised. Quality is reported by leave-one-out over the
/// architecture library: Kendall tau-b and MSE of the held-out predictions.
/// </summary>
public sealed class AccuracyPredictor
{
    public double Lambda { get; }
    public double Intercept { get; }
    public double[] Weights { get; }
    public double[] Mean { get; }
    public double[] Scale { get; }

    AccuracyPredictor(double lambda, double intercept, double[] w, double[] mean, double[] scale)
    {
        Lambda = lambda; Intercept = intercept; Weights = w; Mean = mean; Scale = scale;
    }

    public static AccuracyPredictor Fit(IReadOnlyList<double[]> x, IReadOnlyList<double> y, double lambda)
    {
        if (x.Count < 2) throw new TailorException($"accuracy predictor: needs at least 2 architectures (got {x.Count})");
        int d = x[0].Length, n = x.Count;
        var mean = new double[d]; var scale = new double[d];
        for (int j = 0; j < d; j++)
        {
            mean[j] = x.Average(r => r[j]);
            double v = x.Sum(r => (r[j] - mean[j]) * (r[j] - mean[j])) / n;
            scale[j] = v > 1e-24 ? Math.Sqrt(v) : 1;
        }
        double ym = y.Average();
        var a = new double[d, d]; var b = new double[d];
        for (int i = 0; i < n; i++)
        {
            var z = new double[d];
            for (int j = 0; j < d; j++) z[j] = (x[i][j] - mean[j]) / scale[j];
            for (int j = 0; j < d; j++)
            {
                b[j] += z[j] * (y[i] - ym);
                for (int k = 0; k < d; k++) a[j, k] += z[j] * z[k];
            }
        }
        for (int j = 0; j < d; j++) a[j, j] += Math.Max(lambda, 1e-9);
        var w = Stats.SolveSymmetric(a, b);
        return new AccuracyPredictor(lambda, ym, w, mean, scale);
    }

    public double Predict(ReadOnlySpan<double> q)
    {
        double s = Intercept;
        for (int j = 0; j < Weights.Length; j++) s += Weights[j] * (q[j] - Mean[j]) / Scale[j];
        return s;
    }

    public sealed record LooResult(double KendallTau, double Mse, double[] Predicted, double[] Actual);

    public static LooResult LeaveOneOut(IReadOnlyList<double[]> x, IReadOnlyList<double> y, double lambda)
    {
        if (x.Count < 3) throw new TailorException($"accuracy predictor: leave-one-out needs at least 3 architectures (got {x.Count})");
        var pred = new double[x.Count];
        for (int i = 0; i < x.Count; i++)
        {
            var xi = x.Where((_, k) => k != i).ToList();
            var yi = y.Where((_, k) => k != i).ToList();
            pred[i] = Fit(xi, yi, lambda).Predict(x[i]);
        }
        var act = y.ToArray();
        double mse = pred.Select((p, i) => (p - act[i]) * (p - act[i])).Average();
        return new LooResult(Stats.KendallTauB(pred, act), mse, pred, act);
    }

    /// <summary>
    /// How well any predictor could rank the library, given that each accuracy was measured on only
    /// <paramref name="images"/> validation images: the mean Kendall tau between the accuracies and a
    /// simulated re-measurement (binomial sampling noise, normal approximation) over
    /// <paramref name="repeats"/> draws. Optimistic: it takes the measured spread, which includes the
    /// noise, for the true one. Training-seed noise comes on top.
    /// </summary>
    public static double NoiseCeilingTau(IReadOnlyList<double> acc, int images, ulong seed, int repeats = 400)
    {
        if (acc.Count < 2 || images < 1) return double.NaN;
        var rng = new Rng(seed);
        var again = new double[acc.Count];
        double sum = 0;
        for (int r = 0; r < repeats; r++)
        {
            for (int i = 0; i < acc.Count; i++)
            {
                double p = Math.Clamp(acc[i], 0, 1);
                again[i] = p + rng.NextGaussian() * Math.Sqrt(p * (1 - p) / images);
            }
            sum += Stats.KendallTauB(acc, again);
        }
        return sum / repeats;
    }

    public JsonObject ToJson() => new()
    {
        ["lambda"] = Lambda, ["intercept"] = Intercept,
        ["weights"] = new JsonArray(Weights.Select(v => (JsonNode)v).ToArray()),
        ["mean"] = new JsonArray(Mean.Select(v => (JsonNode)v).ToArray()),
        ["scale"] = new JsonArray(Scale.Select(v => (JsonNode)v).ToArray()),
    };
}
