using Tailor.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Search.Differentiable;

/// <summary>
/// SGD with momentum (dampening 0), optional Nesterov and L2 weight decay, exactly PyTorch's update:
/// g' = g + wd * w; v = mu * v + g'; step = nesterov ? g' + mu * v : v; w -= lr * step.
/// Its momentum buffers are visible so DARTS's second-order virtual step can reuse them.
/// </summary>
public sealed class SgdMomentum
{
    readonly IReadOnlyList<Tensor> _params;
    readonly Tensor?[] _buf;
    // Parameters that have had a gradient once. In an uninterrupted run their .grad stays allocated
    // (zeroed, not null), so they keep taking weight-decay/momentum steps when unused (GDAS computes only
    // the sampled op); after a resume .grad is null again, so we treat a seen parameter's null gradient as
    // zero. Saved with the state so a resumed run steps exactly the same parameters.
    readonly bool[] _seen;
    public double Momentum { get; }
    public double WeightDecay { get; }
    public bool Nesterov { get; }

    public SgdMomentum(IReadOnlyList<Tensor> parameters, double momentum, double weightDecay, bool nesterov)
    {
        _params = parameters; Momentum = momentum; WeightDecay = weightDecay; Nesterov = nesterov;
        _buf = new Tensor?[parameters.Count];
        _seen = new bool[parameters.Count];
    }

    public IReadOnlyList<Tensor> Parameters => _params;
    public Tensor? Buffer(int i) => _buf[i];

    public void Step(double lr)
    {
        using var _ = no_grad();
        // Scalars held for the whole step: a temporary Scalar can be finalized during the native call
        // that reads it (see Training/Optimizers/KeptScalarOptimizers.cs).
        using Scalar sWd = WeightDecay, sMomentum = Momentum, sMinusLr = -lr;
        for (int i = 0; i < _params.Count; i++)
        {
            var p = _params[i];
            var g = p.grad;
            if (g is null && !_seen[i]) continue;
            _seen[i] = true;
            using var zero = g is null ? zeros_like(p) : null;
            g ??= zero!;
            var d = WeightDecay != 0 ? g.add(p, sWd) : g.clone();
            if (Momentum != 0)
            {
                if (_buf[i] is null) _buf[i] = d.clone().DetachFromDisposeScope();
                else _buf[i]!.mul_(sMomentum).PlusInPlace(d);
                d = Nesterov ? d.add(_buf[i]!, sMomentum) : _buf[i]!;
            }
            p.add_(d, sMinusLr);
        }
    }

    /// <summary>
    /// The weights one step would produce from gradients <paramref name="grads"/>, without changing
    /// anything (DARTS's unrolled model: w - lr * (mu * v + g + wd * w) for plain momentum).
    /// </summary>
    public Tensor[] VirtualStep(IReadOnlyList<Tensor> grads, double lr)
    {
        using var _ = no_grad();
        using Scalar sWd = WeightDecay, sMomentum = Momentum, sMinusLr = -lr;
        var res = new Tensor[_params.Count];
        for (int i = 0; i < _params.Count; i++)
        {
            var p = _params[i];
            var d = WeightDecay != 0 ? grads[i].add(p, sWd) : grads[i];
            if (Momentum != 0)
            {
                var v = _buf[i] is null ? d : _buf[i]!.mul(sMomentum).Plus(d);
                d = Nesterov ? d.add(v, sMomentum) : v;
            }
            res[i] = p.add(d, sMinusLr);
        }
        return res;
    }

    /// <summary>d(w')/d(g) as a scalar: lr for plain momentum, lr * (1 + mu) with Nesterov.</summary>
    public double VirtualStepGradScale(double lr) => Nesterov ? lr * (1 + Momentum) : lr;

    public void ZeroGrad() { foreach (var p in _params) p.grad?.zero_(); }

    public IEnumerable<(string Name, Tensor Value)> State()
    {
        for (int i = 0; i < _buf.Length; i++) if (_buf[i] is { } b) yield return ($"momentum.{i}", b);
        yield return ("seen", tensor(_seen.Select(x => x ? 1f : 0f).ToArray())); // TensorStore keeps float32
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> t)
    {
        for (int i = 0; i < _buf.Length; i++)
            if (t.TryGetValue($"momentum.{i}", out var b)) _buf[i] = b.clone().DetachFromDisposeScope();
        if (t.TryGetValue("seen", out var seen) && seen.numel() == _seen.Length)
        {
            var v = seen.to(ScalarType.Float32).data<float>().ToArray();
            for (int i = 0; i < _seen.Length; i++) _seen[i] = v[i] != 0;
        }
        else
            for (int i = 0; i < _seen.Length; i++) _seen[i] = _buf[i] is not null;
    }
}

/// <summary>Adam with L2 weight decay added to the gradient (PyTorch's Adam, not AdamW), as DARTS uses on alpha.</summary>
public sealed class AdamL2
{
    readonly IReadOnlyList<Tensor> _params;
    readonly Tensor[] _m, _v;
    public double Lr { get; set; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double WeightDecay { get; }
    public double Eps { get; } = 1e-8;
    public long Steps { get; private set; }

    public AdamL2(IReadOnlyList<Tensor> parameters, double lr, double beta1, double beta2, double weightDecay)
    {
        _params = parameters; Lr = lr; Beta1 = beta1; Beta2 = beta2; WeightDecay = weightDecay;
        _m = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _v = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
    }

    public void Step()
    {
        using var _ = no_grad();
        Steps++;
        double bc1 = 1 - Math.Pow(Beta1, Steps), bc2 = 1 - Math.Pow(Beta2, Steps);
        using Scalar sWd = WeightDecay, sBeta1 = Beta1, sOneMinusBeta1 = 1 - Beta1, sBeta2 = Beta2,
            sOneMinusBeta2 = 1 - Beta2, sBc2 = bc2, sEps = Eps, sStep = -Lr / bc1;
        for (int i = 0; i < _params.Count; i++)
        {
            var p = _params[i];
            if (p.grad is null) continue;
            var g = WeightDecay != 0 ? p.grad.add(p, sWd) : p.grad;
            _m[i].mul_(sBeta1).add_(g, sOneMinusBeta1);
            _v[i].mul_(sBeta2).addcmul_(g, g, sOneMinusBeta2);
            var denom = _v[i].div(sBc2).sqrt_().PlusInPlace(sEps);
            p.addcdiv_(_m[i], denom, sStep);
        }
    }

    public void ZeroGrad() { foreach (var p in _params) p.grad?.zero_(); }

    public IEnumerable<(string Name, Tensor Value)> State()
    {
        for (int i = 0; i < _m.Length; i++) { yield return ($"adam_m.{i}", _m[i]); yield return ($"adam_v.{i}", _v[i]); }
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> t, long steps)
    {
        using var _ = no_grad();
        for (int i = 0; i < _m.Length; i++)
        {
            if (t.TryGetValue($"adam_m.{i}", out var m)) _m[i].copy_(m);
            if (t.TryGetValue($"adam_v.{i}", out var v)) _v[i].copy_(v);
        }
        Steps = steps;
    }
}

public static class GradTools
{
    /// <summary>Clips the total L2 norm of the gradients to <paramref name="max"/> (PyTorch's clip_grad_norm_); returns the norm before clipping.</summary>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double max)
    {
        using var _ = no_grad();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToList();
        if (grads.Count == 0) return 0;
        double total = Math.Sqrt(grads.Sum(g => { double n = g.norm().item<float>(); return n * n; }));
        if (max > 0 && total > max)
        {
            double c = max / (total + 1e-6);
            foreach (var g in grads) g.mul_(c);
        }
        return total;
    }

    /// <summary>Cosine annealing from <paramref name="lr"/> to <paramref name="lrMin"/> over <paramref name="epochs"/> (PyTorch's CosineAnnealingLR at epoch e).</summary>
    public static double Cosine(double lr, double lrMin, double epoch, double epochs) =>
        epochs <= 1 ? lr : lrMin + (lr - lrMin) * (1 + Math.Cos(Math.PI * Math.Min(epoch, epochs) / epochs)) / 2;
}
