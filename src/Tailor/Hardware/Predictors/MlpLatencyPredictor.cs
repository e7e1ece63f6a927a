using Tailor.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Hardware.Predictors;

/// <summary>A fitted latency predictor over an <see cref="IArchEncoding"/>.</summary>
public interface ILatencyPredictor : IDisposable
{
    string Name { get; }
    IArchEncoding Encoding { get; }
    /// <summary>Predicted latency (the unit of the training data, e.g. ms) of each architecture (one choice per group).</summary>
    double[] Predict(IReadOnlyList<int[]> choices);
}

public sealed record MlpOptions
{
    public int Hidden { get; init; } = 128;
    public int HiddenLayers { get; init; } = 2;
    /// <summary>Full-batch Adam steps (cosine learning-rate decay).</summary>
    public int Steps { get; init; } = 1000;
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 1e-5;
    /// <summary>The relative error divides by max(y, this quantile of the training latencies), so that a few
    /// near-zero latencies (e.g. pruned, disconnected cells) cannot dominate the loss.</summary>
    public double FloorQuantile { get; init; } = 0.05;
    /// <summary>Share of the training rows held out to choose the number of steps (early stopping); 0 = train <see cref="Steps"/> steps.</summary>
    public double ValidationShare { get; init; } = 0.2;
    public int EvalEvery { get; init; } = 25;
    /// <summary>Stop the early-stopping pass after this many steps without improvement.</summary>
    public int Patience { get; init; } = 250;
    /// <summary>A validation loss counts as better only when it is this much (relative) lower.</summary>
    public double MinImprovement { get; init; } = 0.01;
    /// <summary>Stop once the validation RMS relative error is below this (0.001 = 0.1%).</summary>
    public double GoodEnough { get; init; } = 1e-3;
    /// <summary>Ridge of the least-squares initialisation of the linear term, relative to the mean diagonal.</summary>
    public double Ridge { get; init; } = 1e-4;
    /// <summary>
    /// "relative": prediction = scale * f(x), loss ((pred - y) / max(y, floor))^2 (the conditional mean).
    /// "huber" (default): the same prediction, Huber loss of that relative error with <see cref="HuberDelta"/> (close to
    /// the conditional median: robust to heavy-tailed measurement noise and outliers, which is what the
    /// within +-10% figure of merit rewards).
    /// "log-huber": prediction = scale * exp(f(x)), Huber loss of log(pred / y) (multiplicative costs).
    /// </summary>
    public string Loss { get; init; } = "huber";
    /// <summary>Where the Huber loss turns from quadratic to linear (0.05: a 5% relative, or log, error).</summary>
    public double HuberDelta { get; init; } = 0.05;
    /// <summary>With a robust loss (huber, log-huber): Adam steps that first fit the linear term alone to that loss
    /// (the least-squares start is pulled by outliers); the MLP then trains from there.</summary>
    public int LinearSteps { get; init; } = 1000;

    public void Validate()
    {
        if (Loss is not ("relative" or "huber" or "log-huber")) throw new TailorException($"mlp: loss '{Loss}': expected relative, huber or log-huber");
        if (!(HuberDelta > 0)) throw new TailorException($"mlp: huber delta must be > 0 (got {HuberDelta})");
        if (LinearSteps < 0) throw new TailorException($"mlp: linear steps must be >= 0 (got {LinearSteps})");
        if (Steps < 0 || Hidden < 1 || HiddenLayers < 0) throw new TailorException("mlp: steps must be >= 0, hidden >= 1 and hidden layers >= 0");
    }
}

/// <summary>
/// MLP latency predictor (the latency-aware differentiable NAS recipe, methods.md §3), in TorchSharp.
/// prediction = scale * (linear(x) + mlp(x)): the linear term is the additive per-op cost (a learned
/// LUT, initialised by weighted least squares, then fitted alone to the robust loss), the MLP the
/// interactions; trained on a Huber loss of the relative error (pred - y) / max(y, floor) (see
/// <see cref="MlpOptions.Loss"/>), since the figure of merit (within +-10%) is relative and measured
/// latencies have heavy-tailed noise; early stopping on held-out rows decides how far the MLP goes
/// beyond the additive term (on noisy tables: not at all). Input x is the concatenated one-hot of the choices, or
/// for differentiable search a probability vector per group (<see cref="PredictSoft(Tensor)"/>): the
/// output is then differentiable with respect to the architecture weights.
/// </summary>
public sealed class MlpLatencyPredictor : ILatencyPredictor
{
    sealed class Net : nn.Module<Tensor, Tensor>
    {
        private readonly Linear linear;
        private readonly Sequential mlp;

        public Net(int dim, MlpOptions o, int seed) : base("LatencyMlp")
        {
            linear = nn.Linear(dim, 1);
            var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
            int d = dim;
            for (int i = 0; i < o.HiddenLayers; i++)
            {
                layers.Add(($"fc{i}", nn.Linear(d, o.Hidden)));
                layers.Add(($"relu{i}", nn.ReLU()));
                d = o.Hidden;
            }
            var last = nn.Linear(d, 1);
            layers.Add(("out", last));
            mlp = nn.Sequential(layers);
            RegisterComponents();
            // PyTorch's default Linear init, from a private generator: independent of the global RNG (other threads may use it)
            var g = new Generator((ulong)seed);
            using (no_grad())
                foreach (var (_, m) in named_modules())
                    if (m is Linear l)
                    {
                        double bound = 1 / Math.Sqrt(l.weight!.shape[1]);
                        l.weight.uniform_(-bound, bound, g);
                        l.bias!.uniform_(-bound, bound, g);
                    }
            using (no_grad()) { last.weight!.mul_(0.1); last.bias!.zero_(); }
        }

        /// <summary>The parameters of the linear (additive) term.</summary>
        public IEnumerable<Parameter> LinearParameters() => linear.parameters();

        public override Tensor forward(Tensor x) => (linear.call(x) + mlp.call(x)).squeeze(-1);

        /// <summary>Sets the linear term to the weighted ridge least-squares fit of (x, t) with weights 1/d^2 (the relative error).</summary>
        public void InitLinear(Tensor x, double[] t, double[] d, double ridge)
        {
            int n = (int)x.shape[0], k = (int)x.shape[1];
            var xs = x.data<float>().ToArray();
            int m = k + 1;
            var a = new double[m, m];
            var b = new double[m];
            var row = new double[m];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < k; j++) row[j] = xs[i * k + j];
                row[k] = 1;
                double w = 1 / (d[i] * d[i]);
                for (int p = 0; p < m; p++)
                {
                    if (row[p] == 0) continue;
                    double wp = w * row[p];
                    b[p] += wp * t[i];
                    for (int q = 0; q < m; q++) a[p, q] += wp * row[q];
                }
            }
            double tr = 0;
            for (int p = 0; p < m; p++) tr += a[p, p];
            for (int p = 0; p < k; p++) a[p, p] += ridge * tr / m + 1e-12;
            var sol = Tailor.Util.Stats.SolveSymmetric(a, b);
            using var _ = no_grad();
            linear.weight!.copy_(tensor(sol.Take(k).Select(v => (float)v).ToArray()).reshape(1, k));
            linear.bias!.copy_(tensor(new[] { (float)sol[k] }));
        }
    }

    readonly Net _net;
    readonly double _scale;

    public string Name => "mlp";
    public IArchEncoding Encoding { get; }
    public MlpOptions Options { get; }

    MlpLatencyPredictor(IArchEncoding enc, Net net, double scale, MlpOptions o)
    {
        Encoding = enc; _net = net; _scale = scale; Options = o;
    }

    /// <summary>
    /// Fits on the given architectures and latencies: deterministic for a seed and thread count when MKL's
    /// reproducibility mode is on (<see cref="MklReproducibility"/>; `tailor latency fit` turns it on), else
    /// up to float rounding that early stopping can amplify to ~0.2%.
    /// Early stopping: a first pass trains on 80% of the rows and finds the step with the lowest loss on
    /// the other 20% (checked every <see cref="MlpOptions.EvalEvery"/> steps); the final model trains on
    /// all rows for that many steps. Noisy data thus stops early (close to the linear model), clean
    /// data trains long.
    /// </summary>
    public static MlpLatencyPredictor Fit(IArchEncoding enc, IReadOnlyList<int[]> choices, IReadOnlyList<double> latency, int seed = 0, MlpOptions? o = null)
    {
        o ??= new MlpOptions();
        o.Validate();
        if (choices.Count != latency.Count || choices.Count == 0) throw new TailorException("mlp fit: need as many latencies as architectures (and at least one)");
        double scale = latency.Average();
        double floor = Tailor.Util.Stats.Quantile(latency.ToList(), Math.Clamp(o.FloorQuantile, 0, 1));
        int steps = o.Steps;
        if (o.ValidationShare > 0 && choices.Count >= 10)
        {
            var idx = Enumerable.Range(0, choices.Count).ToArray();
            new Random(seed ^ 0x5eed).Shuffle(idx);
            int nVal = Math.Max(2, (int)Math.Round(choices.Count * o.ValidationShare));
            var val = idx.Take(nVal).ToArray();
            var tr = idx.Skip(nVal).ToArray();
            using var probe = Train(enc, tr.Select(i => choices[i]).ToList(), tr.Select(i => latency[i]).ToList(), scale, floor, o, seed, o.Steps,
                (val.Select(i => choices[i]).ToList(), val.Select(i => latency[i]).ToList()), out int best);
            steps = best;
        }
        var net = Train(enc, choices, latency, scale, floor, o, seed, steps, null, out _);
        return new MlpLatencyPredictor(enc, net, scale, o) { TrainedSteps = steps };
    }

    /// <summary>Steps of the final training (chosen by early stopping).</summary>
    public int TrainedSteps { get; private init; }

    static Net Train(IArchEncoding enc, IReadOnlyList<int[]> choices, IReadOnlyList<double> latency, double scale, double floor, MlpOptions o, int seed,
        int steps, (IReadOnlyList<int[]> C, IReadOnlyList<double> Y)? val, out int bestStep)
    {
        var net = new Net(enc.FeatureDim, o, seed);
        bestStep = 0;
        bool log = o.Loss == "log-huber";
        using var scope = NewDisposeScope();
        var x = Features(enc, choices);
        if (log) net.InitLinear(x, latency.Select(v => Math.Log(v / scale)).ToArray(), latency.Select(_ => 1.0).ToArray(), o.Ridge);
        else net.InitLinear(x, latency.Select(v => v / scale).ToArray(), latency.Select(v => Math.Max(v, floor) / scale).ToArray(), o.Ridge);
        // the loss of predictions f (the net's output) against latencies y: per row, averaged
        (Tensor T, Tensor Den) Targets(IReadOnlyList<double> y) => log
            ? (tensor(y.Select(v => (float)Math.Log(v / scale)).ToArray()), ones(y.Count))
            : (tensor(y.Select(v => (float)(v / scale)).ToArray()), tensor(y.Select(v => (float)(Math.Max(v, floor) / scale)).ToArray()));
        Tensor Loss(Tensor f, Tensor t, Tensor den)
        {
            if (o.Loss == "relative") { var rel = (f - t) / den; return (rel * rel).mean(); }
            var a = ((f - t) / den).abs();
            var d = o.HuberDelta;
            return where(a <= d, 0.5 * a * a, d * (a - 0.5 * d)).mean() / (0.5 * d * d);
        }
        // RMS relative error of a loss value (for log-huber: exact while all errors are below delta)
        double RmsRel(double loss) => o.Loss == "relative" ? Math.Sqrt(loss) : Math.Sqrt(loss) * o.HuberDelta;
        var (t, den) = Targets(latency);
        Tensor? vx = null, vt = null, vden = null;
        if (val is { } v)
        {
            vx = Features(enc, v.C);
            (vt, vden) = Targets(v.Y);
        }
        if (o.Loss != "relative" && o.LinearSteps > 0)
        {
            var lopt = new KeptScalarAdam(net.LinearParameters(), o.LearningRate * 3);
            for (int s = 0; s < o.LinearSteps; s++)
            {
                using var step = NewDisposeScope();
                foreach (var g in lopt.ParamGroups) g.LearningRate = o.LearningRate * 3 * 0.5 * (1 + Math.Cos(Math.PI * s / o.LinearSteps));
                lopt.zero_grad();
                Loss(net.call(x), t, den).backward();
                lopt.step();
            }
        }
        double bestLoss = double.PositiveInfinity;
        if (vx is not null)
            using (no_grad())
            {
                bestLoss = Loss(net.call(vx), vt!, vden!).item<float>();
                if (RmsRel(bestLoss) < o.GoodEnough) steps = 0; // the linear term alone is exact (e.g. a table that sums per-layer costs)
            }
        var opt = new KeptScalarAdam(net.parameters(), o.LearningRate, weight_decay: o.WeightDecay);
        for (int s = 0; s < steps; s++)
        {
            using var step = NewDisposeScope();
            double lr = o.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * s / o.Steps));
            foreach (var g in opt.ParamGroups) g.LearningRate = lr;
            opt.zero_grad();
            var loss = Loss(net.call(x), t, den);
            loss.backward();
            opt.step();
            if (vx is not null && ((s + 1) % o.EvalEvery == 0 || s + 1 == steps))
            {
                using var _ = no_grad();
                double vl = Loss(net.call(vx), vt!, vden!).item<float>();
                if (vl < bestLoss * (1 - o.MinImprovement)) { bestLoss = vl; bestStep = s + 1; }
                else if (s + 1 - bestStep >= o.Patience) break;
                if (RmsRel(bestLoss) < o.GoodEnough) break;
            }
        }
        net.eval();
        return net;
    }

    /// <summary>The net's output f -&gt; latency in the data's unit.</summary>
    Tensor Output(Tensor f) => Options.Loss == "log-huber" ? f.exp() * _scale : f * _scale;

    static Tensor Features(IArchEncoding enc, IReadOnlyList<int[]> choices)
    {
        int d = enc.FeatureDim;
        var a = new float[choices.Count * d];
        for (int i = 0; i < choices.Count; i++) enc.Features(choices[i]).CopyTo(a, i * d);
        return tensor(a, new long[] { choices.Count, d });
    }

    public double[] Predict(IReadOnlyList<int[]> choices)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var y = Output(_net.call(Features(Encoding, choices)));
        return y.data<float>().Select(v => (double)v).ToArray();
    }

    /// <summary>
    /// Predicted latency for soft op weights: <paramref name="opWeights"/> is [D] or [B, D], the
    /// concatenation over groups (in <see cref="IArchEncoding.GroupSizes"/> order) of probability vectors
    /// (e.g. softmax of architecture logits). Returns a scalar or [B] tensor in the data's unit,
    /// differentiable with respect to <paramref name="opWeights"/>. One-hot input gives <see cref="Predict"/>.
    /// </summary>
    public Tensor PredictSoft(Tensor opWeights)
    {
        if (opWeights.shape[^1] != Encoding.Dim())
            throw new TailorException($"mlp predictor: op weights have {opWeights.shape[^1]} features, the encoding {Encoding.Name} has {Encoding.Dim()}");
        return Output(_net.call(Encoding.SoftFeatures(opWeights.to_type(ScalarType.Float32))));
    }

    /// <summary>Same, with one tensor per group ([K_g] or [B, K_g]); they are concatenated in order.</summary>
    public Tensor PredictSoft(IReadOnlyList<Tensor> perGroup)
    {
        if (perGroup.Count != Encoding.GroupSizes.Count)
            throw new TailorException($"mlp predictor: expected {Encoding.GroupSizes.Count} groups of op weights, got {perGroup.Count}");
        for (int g = 0; g < perGroup.Count; g++)
            if (perGroup[g].shape[^1] != Encoding.GroupSizes[g])
                throw new TailorException($"mlp predictor: group {g} has {perGroup[g].shape[^1]} op weights, expected {Encoding.GroupSizes[g]}");
        return PredictSoft(cat(perGroup.ToArray(), -1));
    }

    /// <summary>The parameters, e.g. to freeze them (requires_grad_(false)) inside a search.</summary>
    public IEnumerable<Parameter> Parameters() => _net.parameters();

    public void Dispose() => _net.Dispose();
}
