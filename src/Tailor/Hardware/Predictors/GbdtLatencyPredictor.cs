using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace Tailor.Hardware.Predictors;

public sealed record GbdtOptions
{
    /// <summary>Many small trees: latency is close to additive over layers, which shallow trees model best.</summary>
    public int Trees { get; init; } = 3000;
    public int Leaves { get; init; } = 4;
    public int MinLeafExamples { get; init; } = 5;
    public double LearningRate { get; init; } = 0.1;
}

/// <summary>
/// Gradient-boosted regression trees (ML.NET FastTree) on the one-hot encoding, fitted to log latency
/// (so the squared error it minimises is a relative one). Deterministic for a seed.
/// </summary>
public sealed class GbdtLatencyPredictor : ILatencyPredictor
{
    sealed class Row
    {
        public float Label { get; set; }
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

    GbdtLatencyPredictor(IArchEncoding enc, MLContext ml, ITransformer model, SchemaDefinition schema)
    {
        Encoding = enc; _ml = ml; _model = model; _schema = schema;
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
        if (choices.Count != latency.Count || choices.Count < 2) throw new TailorException("gbdt fit: need as many latencies as architectures (and at least two)");
        var ml = new MLContext(seed);
        var schema = Schema(enc.FeatureDim);
        var rows = choices.Select((c, i) => new Row { Label = (float)Math.Log(latency[i]), Features = enc.Features(c) }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows, schema);
        var trainer = ml.Regression.Trainers.FastTree(new FastTreeRegressionTrainer.Options
        {
            NumberOfTrees = o.Trees, NumberOfLeaves = o.Leaves, MinimumExampleCountPerLeaf = o.MinLeafExamples,
            LearningRate = o.LearningRate, NumberOfThreads = 1, Seed = seed, FeatureFraction = 1.0,
        });
        var model = trainer.Fit(data);
        return new GbdtLatencyPredictor(enc, ml, model, schema);
    }

    public double[] Predict(IReadOnlyList<int[]> choices)
    {
        var rows = choices.Select(c => new Row { Features = Encoding.Features(c) }).ToList();
        var scored = _model.Transform(_ml.Data.LoadFromEnumerable(rows, _schema));
        return scored.GetColumn<float>("Score").Select(s => Math.Exp(s)).ToArray();
    }

    public void Dispose() { }
}
