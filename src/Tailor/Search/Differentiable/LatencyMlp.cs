using Tailor.Training.Optimizers;
using Tailor.Models.Cells;
using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Search.Differentiable;

/// <summary>
/// A differentiable latency predictor for NAS-Bench-201 cells (Xu et al. 2020's idea): an MLP
/// (30 -&gt; 64 -&gt; 64 -&gt; 1, ReLU) on the 6 x 5 one-hot cell encoding, fitted to a latency column of the
/// table; during a search it is fed softmax(alpha) in place of the one-hot code, so
/// lambda * latency is differentiable in alpha. Minimal stand-in for the hardware issue's predictor
/// (<c>PredictSoft</c>), which replaces it when merged.
/// </summary>
public sealed class LatencyMlp : nn.Module<Tensor, Tensor>
{
    private readonly Sequential net;
    double _mean, _std;
    public string Column { get; }
    /// <summary>Share of table cells predicted within +-10% of the table's latency after fitting.</summary>
    public double Within10 { get; private set; }
    public double MeanAbsPctError { get; private set; }

    LatencyMlp(string column) : base("LatencyMlp")
    {
        Column = column;
        net = nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1));
        RegisterComponents();
    }

    public static float[] Encode(Nb201Cell c)
    {
        var f = new float[30];
        for (int e = 0; e < 6; e++) f[e * 5 + c.Ops[e]] = 1;
        return f;
    }

    /// <summary>Fits the predictor to every row of the table's latency column (Adam on seeded mini-batches of 1,024 cells).</summary>
    public static LatencyMlp Fit(Nb201Table table, long seed = 0, int iterations = 800)
    {
        if (table.LatencyColumn == null) throw new TailorException($"{table.Path}: no latency column selected");
        var rows = table.Rows.ToArray();
        var x = new float[rows.Length * 30];
        var y = new float[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            Encode(Nb201Cell.Parse(rows[i].Arch)).CopyTo(x, i * 30);
            y[i] = (float)rows[i].Latency!.Value;
        }
        double mean = y.Average(), std = Math.Sqrt(y.Select(v => (v - mean) * (v - mean)).Average());
        torch.manual_seed(seed);
        var m = new LatencyMlp(table.LatencyColumn) { _mean = mean, _std = std };
        using (var _ = NewDisposeScope())
        {
            var X = tensor(x, new long[] { rows.Length, 30 });
            var Y = ((tensor(y) - mean) / std).unsqueeze(1);
            var opt = new KeptScalarAdam(m.parameters(), 3e-3);
            var gen = new Generator((ulong)SplitMix64.Mix(seed, 0x1A7));
            for (int it = 0; it < iterations; it++)
            {
                using var s = NewDisposeScope();
                opt.zero_grad();
                var idx = randint(0, rows.Length, new long[] { Math.Min(1024, rows.Length) }, generator: gen);
                var loss = nn.functional.mse_loss(m.net.call(X.index_select(0, idx)), Y.index_select(0, idx));
                loss.backward();
                opt.step();
            }
            using var ng = no_grad();
            var pred = (m.net.call(X).squeeze(1) * std + mean).data<float>().ToArray();
            int within = 0; double ape = 0;
            for (int i = 0; i < y.Length; i++)
            {
                double e = Math.Abs(pred[i] - y[i]) / y[i];
                ape += e;
                if (e <= 0.10) within++;
            }
            m.Within10 = (double)within / y.Length;
            m.MeanAbsPctError = ape / y.Length;
        }
        foreach (var p in m.parameters()) p.requires_grad_(false);
        return m;
    }

    /// <summary>Predicted latency (ms) of a batch of encodings [B, 30] (one-hot or soft).</summary>
    public override Tensor forward(Tensor enc) => net.call(enc).squeeze(1).Times(_std).PlusScalar(_mean);

    /// <summary>Predicted latency (ms) of soft op weights [6, 5] (softmax(alpha)): differentiable in the weights.</summary>
    public Tensor PredictSoft(Tensor weights) => forward(weights.reshape(1, 30))[0];

    public double Predict(Nb201Cell c)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        return forward(tensor(Encode(c), new long[] { 1, 30 })).item<float>();
    }
}
