using static TorchSharp.torch;

namespace Tailor.Search.Differentiable;

/// <summary>DARTS's second-order architecture gradient (Liu et al., 2019, eq. 7-8).</summary>
public static class SecondOrder
{
    /// <summary>
    /// grad_alpha L_val(w', alpha) with w' = w - eta * (what the weight optimizer would step with the
    /// training gradient: momentum and weight decay included), approximated as DARTS does:
    /// grad_alpha L_val(w', alpha) - s * (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2R),
    /// v = grad_w' L_val(w', alpha), w+- = w +- R v, R = <paramref name="r"/> / ||v||, s = eta (eta * (1 + mu) with Nesterov).
    /// <paramref name="trainLoss"/>(differentiableInAlpha) and <paramref name="valLoss"/>() build the losses with the model's current weights.
    /// The weights are restored exactly before it returns.
    /// </summary>
    public static Tensor[] Hypergradient(SgdMomentum sgd, IReadOnlyList<Tensor> alphas, double lr,
        Func<bool, Tensor> trainLoss, Func<Tensor> valLoss, double r = 0.01)
    {
        var w = sgd.Parameters;
        var backup = w.Select(p => p.detach().clone()).ToArray();
        try
        {
            var gw = Grad(trainLoss(false), w);
            var wPrime = sgd.VirtualStep(gw, lr);
            using (no_grad()) for (int i = 0; i < w.Count; i++) w[i].copy_(wPrime[i]);
            var all = alphas.Concat(w).ToList();
            var g = Grad(valLoss(), all);
            var dAlpha = g.Take(alphas.Count).ToArray();
            var v = g.Skip(alphas.Count).ToArray();
            using (no_grad()) for (int i = 0; i < w.Count; i++) w[i].copy_(backup[i]);
            double norm = 0;
            using (no_grad()) foreach (var t in v) { double n = t.norm().to(ScalarType.Float64).item<double>(); norm += n * n; }
            norm = Math.Sqrt(norm);
            if (norm < 1e-20) return dAlpha;
            double R = r / norm;
            using (no_grad()) for (int i = 0; i < w.Count; i++) w[i].add_(v[i], alpha: R);
            var gp = Grad(trainLoss(true), alphas);
            using (no_grad()) for (int i = 0; i < w.Count; i++) w[i].add_(v[i], alpha: -2 * R);
            var gn = Grad(trainLoss(true), alphas);
            double s = sgd.VirtualStepGradScale(lr);
            var res = new Tensor[alphas.Count];
            for (int a = 0; a < alphas.Count; a++) res[a] = dAlpha[a] - (gp[a] - gn[a]) * (s / (2 * R));
            return res;
        }
        finally
        {
            using (no_grad()) for (int i = 0; i < w.Count; i++) w[i].copy_(backup[i]);
        }
    }

    /// <summary>Gradients of <paramref name="loss"/> w.r.t. <paramref name="inputs"/> (zeros where unused).</summary>
    public static Tensor[] Grad(Tensor loss, IReadOnlyList<Tensor> inputs)
    {
        var g = TorchSharp.torch.autograd.grad(new[] { loss }, inputs.ToList(), allow_unused: true);
        var res = new Tensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++) res[i] = g[i] is { } t && !t.IsInvalid ? t : zeros_like(inputs[i]);
        return res;
    }
}
