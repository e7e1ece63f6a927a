using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace Tailor.Hardware.Predictors;

public sealed record GbdtOptions
{
    /// <summary>Many stumps: latency is close to additive over layers (a LUT), which shallow trees model best; on the
    /// shared tables deeper trees (4 leaves) only fitted measurement noise (NAS-Bench-201 Pixel 3: 51% vs 66% within +-10%).</summary>
    public int Trees { get; init; } = 2000;
    public int Leaves { get; init; } = 2;
    public int MinLeafExamples { get; init; } = 5;
    public double LearningRate { get; init; } = 0.1;
    /// <summary>"log": fit log latency (squared error ~ relative error, multiplicative effects); "relative": fit
    /// latency / mean with weights 1 / max(y, floor)^2 (squared relative error, additive effects as in a LUT).</summary>
    public string Target { get; init; } = "relative";
    /// <summary>Iteratively reweighted refits for a Huber loss of the relative error (0 = plain squared error):
    /// rows whose relative residual exceeds <see cref="HuberDelta"/> get weight delta/|r| (robust to noisy outliers).</summary>
    public int RobustRounds { get; init; } = 2;
    public double HuberDelta { get; init; } = 0.05;
    /// <summary>Floor of the relative error's denominator, as a quantile of the training latencies (target "relative").</summary>
    public double FloorQuantile { get; init; } = 0.05;

    public void Validate()
    {
        if (Target is not ("log" or "relative")) throw new TailorException($"gbdt: target '{Target}': expected log or relative");
        if (Trees < 1 || Leaves < 2 || MinLeafExamples < 1 || !(LearningRate > 0)) throw new TailorException("gbdt: need trees >= 1, leaves >= 2, min leaf examples >= 1, learning rate > 0");
        if (RobustRounds < 0 || !(HuberDelta > 0)) throw new TailorException("gbdt: robust rounds must be >= 0 and huber delta > 0");
    }
}

/// <summary>
/// Gradient-boosted regression trees (ML.NET FastTree) on the encoding's features, fitted to log latency
/// or to the latency with relative-error weights (so the squared error it minimises is a relative one),
/// optionally made robust by iteratively reweighted refits (Huber). Deterministic for a seed.
/// </summary>
public sealed class GbdtLatencyPredictor : ILatencyPredictor
{
    sealed class Row
    {
        public float Label { get; set; }
        public float Weight { get; set; } = 1;
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    sealed class Out
    {
        public float Score { get; set; }
    }

    readonly MLContext _ml;
    readonly ITransformer _model;
    readonly SchemaDefinition _schema;

    public string Name => "gbdt";
    public IArchEncoding Encoding { get; }

    readonly bool _log;
    readonly double _scale;

    GbdtLatencyPredictor(IArchEncoding enc, MLContext ml, ITransformer model, SchemaDefinition schema, bool log, double scale)
    {
        Encoding = enc; _ml = ml; _model = model; _schema = schema; _log = log; _scale = scale;
    }

    static SchemaDefinition Schema(int dim)
    {
        var s = SchemaDefinition.Create(typeof(Row));
        s[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dim);
        return s;
    }

    public static GbdtLatencyPredictor Fit(IArchEncoding enc, IReadOnlyList<int[]> choices, IReadOnlyList<double> latency, int seed = 0, GbdtOptions? o = null)
    {
        o ??= new GbdtOptions();
        o.Validate();
        if (choices.Count != latency.Count || choices.Count < 2) throw new TailorException("gbdt fit: need as many latencies as architectures (and at least two)");
        var ml = new MLContext(seed);
        var schema = Schema(enc.FeatureDim);
        bool log = o.Target == "log";
        double scale = latency.Average();
        double floor = Tailor.Util.Stats.Quantile(latency.ToList(), Math.Clamp(o.FloorQuantile, 0, 1));
        var feats = choices.Select(c => enc.Features(c)).ToList();
        var den = latency.Select(v => Math.Max(v, floor)).ToArray();
        var robust = new double[latency.Count];
        Array.Fill(robust, 1.0);
        GbdtLatencyPredictor? result = null;
        for (int round = 0; round <= o.RobustRounds; round++)
        {
            var rows = feats.Select((f, i) => new Row
            {
                Label = (float)(log ? Math.Log(latency[i]) : latency[i] / scale),
                Weight = (float)(robust[i] * (log ? 1 : scale * scale / (den[i] * den[i]))),
                Features = f,
            }).ToList();
            var data = ml.Data.LoadFromEnumerable(rows, schema);
            var trainer = ml.Regression.Trainers.FastTree(new FastTreeRegressionTrainer.Options
            {
                NumberOfTrees = o.Trees, NumberOfLeaves = o.Leaves, MinimumExampleCountPerLeaf = o.MinLeafExamples,
                LearningRate = o.LearningRate, NumberOfThreads = 1, Seed = seed, FeatureFraction = 1.0,
                ExampleWeightColumnName = nameof(Row.Weight),
            });
            result = new GbdtLatencyPredictor(enc, ml, trainer.Fit(data), schema, log, scale);
            if (round == o.RobustRounds) break;
            // Huber weights from the relative residuals of this fit
            var pred = result.Predict(choices);
            for (int i = 0; i < robust.Length; i++)
            {
                double r = Math.Abs(pred[i] - latency[i]) / den[i];
                robust[i] = r <= o.HuberDelta ? 1 : o.HuberDelta / r;
            }
        }
        return result!;
    }

    public double[] Predict(IReadOnlyList<int[]> choices)
    {
        var rows = choices.Select(c => new Row { Features = Encoding.Features(c) }).ToList();
        var scored = _model.Transform(_ml.Data.LoadFromEnumerable(rows, _schema));
        return scored.GetColumn<float>("Score").Select(s => _log ? Math.Exp(s) : s * _scale).ToArray();
    }

    public void Dispose() { }
}
