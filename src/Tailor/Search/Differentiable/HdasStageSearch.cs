using System.Diagnostics;
using Tailor.Models.Cells;
using Tailor.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Search.Differentiable;

/// <summary>
/// H-DAS's stage-level search (DARTS space) with the cells fixed to those of the cell-level phase:
/// inter-cell weights beta (which earlier node of the window feeds each cell's first input) and depth
/// weights gamma (how many cells each stage keeps) train with Adam on validation batches against
/// CE + lambda * sum_s c_s * E_s[depth], where E_s[depth] = sum_d d * softmax(gamma_s)_d and c_s is the
/// MAC cost of one cell of stage s relative to the mean over stages (the cost term of the depth search);
/// the weights train with SGD on training batches, as in DARTS's first order.
/// </summary>
public sealed class HdasStageSearch : IDisposable
{
    readonly CellSearch _s;
    readonly SearchSplit _split;
    public HdasStageNetwork Net { get; }
    readonly Tensor?[][] _beta;
    readonly Tensor[] _gamma;
    readonly SgdMomentum _sgd;
    readonly AdamL2 _adam;
    public double[] Cost { get; }

    public sealed record StageTensors(Func<IEnumerable<(string, Tensor)>> All);

    public HdasStageSearch(CellSearch s, SearchSplit split, IReadOnlyList<DartsCell> cells)
    {
        _s = s; _split = split;
        var o = s.Options;
        if (cells.Count != 5) throw new TailorException($"H-DAS stage search: needs 5 cells (3 stage cells, 2 reduction cells), got {cells.Count}");
        torch.manual_seed(SplitMix64.Mix(o.Seed, 0x57A6E));
        Net = new HdasStageNetwork(new HdasStageConfig { C = o.C, MaxCells = o.HdasMaxCells, Window = o.HdasWindow, Classes = split.Classes, InputChannels = split.Shape.Channels },
            cells.Take(3).ToList(), cells.Skip(3).ToList());
        var gen = new Generator((ulong)SplitMix64.Mix(o.Seed, 0xBE7A));
        _beta = new Tensor?[3][];
        _gamma = new Tensor[3];
        var archParams = new List<Tensor>();
        for (int st = 0; st < 3; st++)
        {
            _beta[st] = new Tensor?[o.HdasMaxCells];
            for (int j = 1; j <= o.HdasMaxCells; j++)
            {
                int n = Net.Window(j).Count;
                if (n > 1)
                {
                    _beta[st][j - 1] = randn(new long[] { n }, generator: gen).mul_(1e-3).requires_grad_(true).DetachFromDisposeScope();
                    archParams.Add(_beta[st][j - 1]!);
                }
            }
            _gamma[st] = randn(new long[] { o.HdasMaxCells }, generator: gen).mul_(1e-3).requires_grad_(true).DetachFromDisposeScope();
            archParams.Add(_gamma[st]);
        }
        _sgd = new SgdMomentum(Net.parameters().Cast<Tensor>().ToList(), o.Momentum, o.WeightDecay, o.Nesterov);
        _adam = new AdamL2(archParams, o.HdasStageArchLr, o.ArchBeta1, o.ArchBeta2, 0);
        // cost of one normal cell of each stage (MACs at its resolution), normalised to mean 1
        var macs = new double[3];
        long h = split.Shape.Height, w = split.Shape.Width, c = o.C;
        for (int st = 0; st < 3; st++)
        {
            if (st > 0) { c *= 2; h /= 2; w /= 2; }
            macs[st] = CellNetCount.DartsCellCount(cells[st], 4 * c, false, 4 * c, c, false, h, w).Macs;
        }
        double mean = macs.Average();
        Cost = macs.Select(m => m / mean).ToArray();
        s.StageTensors = new StageTensors(AllTensors);
        if (s.LoadedStageTensors is { Count: > 0 } t) Load(t);
    }

    IEnumerable<(string, Tensor)> AllTensors()
    {
        foreach (var (n, t) in Net.state_dict()) yield return ("stage.net." + n, t);
        for (int st = 0; st < 3; st++)
        {
            for (int j = 0; j < _beta[st].Length; j++) if (_beta[st][j] is { } b) yield return ($"stage.beta.{st}.{j}", b);
            yield return ($"stage.gamma.{st}", _gamma[st]);
        }
        foreach (var (n, t) in _sgd.State()) yield return ("stage.sgd." + n, t);
        foreach (var (n, t) in _adam.State()) yield return ("stage.adam." + n, t);
    }

    void Load(Dictionary<string, Tensor> t)
    {
        using (no_grad())
        {
            foreach (var (n, p) in Net.state_dict())
                if (t.TryGetValue("stage.net." + n, out var v)) p.copy_(v);
            for (int st = 0; st < 3; st++)
            {
                for (int j = 0; j < _beta[st].Length; j++) if (_beta[st][j] is { } b && t.TryGetValue($"stage.beta.{st}.{j}", out var v)) b.copy_(v);
                if (t.TryGetValue($"stage.gamma.{st}", out var gv)) _gamma[st].copy_(gv);
            }
        }
        _sgd.LoadState(t.Where(kv => kv.Key.StartsWith("stage.sgd.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[10..], kv => kv.Value));
        _adam.LoadState(t.Where(kv => kv.Key.StartsWith("stage.adam.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[11..], kv => kv.Value), _s.State.HdasStageAdamSteps);
    }

    (Tensor?[][] Beta, Tensor[] Depth) Weights(bool differentiable)
    {
        var b = _beta.Select(row => row.Select(t => t is null ? null : Soft(t, differentiable)).ToArray()).ToArray();
        var d = _gamma.Select(g => Soft(g, differentiable)).ToArray();
        return (b, d);
    }

    static Tensor Soft(Tensor t, bool diff) { var s = nn.functional.softmax(t, 0); return diff ? s : s.detach(); }

    /// <summary>lambda * sum_s c_s * E_s[depth].</summary>
    public Tensor DepthLoss(Tensor[] depth)
    {
        var d = arange(1, _s.Options.HdasMaxCells + 1, dtype: ScalarType.Float32);
        Tensor sum = (depth[0] * d).sum() * Cost[0];
        for (int st = 1; st < 3; st++) sum = sum + (depth[st] * d).sum() * Cost[st];
        return sum * _s.Options.HdasDepthLambda;
    }

    public double[] ExpectedDepth()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        var d = arange(1, _s.Options.HdasMaxCells + 1, dtype: ScalarType.Float32);
        return _gamma.Select(g => (double)(nn.functional.softmax(g, 0) * d).sum().item<float>()).ToArray();
    }

    public Tensor Forward(Tensor x, bool differentiable)
    {
        var (b, d) = Weights(differentiable);
        return Net.Forward(x, b, d);
    }

    /// <summary>One architecture step (CE on a validation batch + the depth cost); returns (CE, depth loss).</summary>
    public (double Ce, double Depth) ArchStep(Tensor xv, Tensor yv)
    {
        _adam.ZeroGrad();
        var (b, d) = Weights(true);
        var ce = nn.functional.cross_entropy(Net.Forward(xv, b, d), yv);
        var dl = DepthLoss(d);
        var loss = ce.Plus(dl);
        var ps = _beta.SelectMany(r => r).Where(t => t is not null).Select(t => t!).Concat(_gamma).ToList();
        var grads = SecondOrder.Grad(loss, ps);
        for (int i = 0; i < ps.Count; i++)
        {
            if (ps[i].grad is null) (ps[i].sum() * 0).backward();
            using var ng = no_grad();
            ps[i].grad!.copy_(grads[i]);
        }
        _adam.Step();
        foreach (var p in ps)
        {
            using var ng = no_grad();
            if (!p.isfinite().all().item<bool>()) throw new TailorException("H-DAS stage search: beta or gamma holds NaN or infinity (lower --hdas-stage-arch-lr); the last checkpoint is kept");
        }
        return (ce.item<float>(), dl.item<float>());
    }

    public (double Loss, double Acc) WeightStep(Tensor xt, Tensor yt, double lr)
    {
        _sgd.ZeroGrad();
        var logits = Forward(xt, false);
        var loss = nn.functional.cross_entropy(logits, yt);
        double lv = loss.item<float>();
        if (!double.IsFinite(lv)) throw new TailorException($"H-DAS stage search: the training loss became {lv}; the last checkpoint is kept");
        loss.backward();
        if (_s.Options.GradClip > 0) GradTools.ClipGradNorm(_sgd.Parameters, _s.Options.GradClip);
        _sgd.Step(lr);
        using var ng = no_grad();
        return (lv, logits.argmax(1).eq(yt).sum().item<long>() * 100.0 / yt.shape[0]);
    }

    public CellNetSpec Derived()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        var beta = _beta.Select(row => row.Select(t => t is null ? Array.Empty<float>() : nn.functional.softmax(t, 0).data<float>().ToArray()).ToArray()).ToArray();
        var depth = _gamma.Select(g => nn.functional.softmax(g, 0).data<float>().ToArray()).ToArray();
        return Net.Derive(beta, depth, _split.Shape, "hdas");
    }

    public static string Describe(CellNetSpec n) =>
        "depths=" + string.Join(",", n.Stages.Select(st => st.Cells)) + " s0=" + string.Join("|", n.Stages.Select(st => "[" + string.Join(",", st.S0 ?? Array.Empty<int>()) + "]"));

    public void Run()
    {
        var o = _s.Options;
        var st = _s.State;
        int steps = Math.Min(o.StepsPerEpoch ?? int.MaxValue, _split.StepsPerEpoch);
        while (st.HdasStageEpochsDone < o.HdasStageEpochs)
        {
            int pe = st.HdasStageEpochsDone, ge = st.EpochsDone;
            double lr = GradTools.Cosine(o.Lr, o.LrMin, pe, o.HdasStageEpochs);
            double tl = 0, ta = 0, vl = 0, dl = 0;
            var sw = Stopwatch.StartNew();
            int s = 0;
            foreach (var (xt, yt, xv, yv) in _split.Epoch(ge))
            {
                if (s >= steps) break;
                _s.Cancel.ThrowIfCancellationRequested();
                using (var scope = NewDisposeScope())
                {
                    var (ce, d) = ArchStep(xv, yv);
                    vl += ce; dl += d;
                    var (l, a) = WeightStep(xt, yt, lr);
                    tl += l; ta += a;
                }
                s++;
                _s.Progress?.Invoke(new SearchProgress("stage", ge + 1, _s.TotalEpochsPlanned(), s, steps));
            }
            st.Seconds += sw.Elapsed.TotalSeconds;
            st.EpochsDone++;
            st.HdasStageEpochsDone++;
            st.HdasStageAdamSteps = _adam.Steps;
            var spec = Derived();
            st.HdasNetwork = CellNetJson.Write(spec);
            _s.FinishEpoch(new EpochRecord
            {
                Epoch = ge + 1, Phase = "stage", Genotype = Describe(spec), TrainLoss = tl / steps, TrainAcc = ta / steps, ValLoss = vl / steps,
                Lr = lr, ExpectedDepth = ExpectedDepth(), DepthLoss = dl / steps, Seconds = st.Seconds,
            });
        }
        st.HdasNetwork ??= CellNetJson.Write(Derived());
    }

    public void Dispose()
    {
        _s.StageTensors = null;
        Net.Dispose();
        foreach (var row in _beta) foreach (var b in row) b?.Dispose();
        foreach (var g in _gamma) g.Dispose();
    }
}
