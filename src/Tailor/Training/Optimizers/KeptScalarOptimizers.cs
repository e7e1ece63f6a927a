using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Training.Optimizers;

// Why these exist: TorchSharp 0.107 turns every double argument of a tensor op (alpha, value, a
// multiplier) into a temporary Scalar whose only owner is the finalizer. Its native handle is read and
// the managed object is dead before the native call returns, so a garbage collection triggered by
// another thread during the call can run ~Scalar and free the at::Scalar while libtorch still reads it
// ("Unknown scalar type" / "Expected false to be true" from Scalar.h, seen in optimizer steps under
// heavy load). An optimizer step issues several such calls per parameter, the densest source of them.
// The steps below hold every Scalar in a `using` variable for the whole step: alive during each call,
// freed deterministically after it. The update math and the state (and so checkpoints) are exactly
// TorchSharp's SGD and Adam, which these derive from.

/// <summary>TorchSharp's <see cref="SGD"/> (PyTorch semantics) with every scalar kept alive through its native calls.</summary>
public sealed class KeptScalarSgd : SGD
{
    public KeptScalarSgd(IEnumerable<Parameter> parameters, double lr, double momentum = 0, double dampening = 0, double weight_decay = 0, bool nesterov = false)
        : base(parameters, lr, momentum, dampening, weight_decay, nesterov, maximize: false) { }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        double momentum = o.momentum!.Value, dampening = o.dampening!.Value, wd = o.weight_decay!.Value, lr = o.LearningRate!.Value;
        bool nesterov = o.nesterov!.Value, maximize = o.maximize!.Value;
        using Scalar sWd = wd, sMomentum = momentum, sOneMinusDampening = 1 - dampening, sStep = maximize ? lr : -lr;
        foreach (var p in group.Parameters)
        {
            var grad = p.grad;
            if (grad is null) continue;
            var st = (State)_state[p.Handle];
            if (wd != 0) grad = grad.add(p, sWd);
            if (momentum != 0)
            {
                var buf = st.momentum_buffer;
                if (buf is null) st.momentum_buffer = buf = grad.clone().detach().DetachFromDisposeScope();
                else buf.mul_(sMomentum).add_(grad, sOneMinusDampening);
                grad = nesterov ? grad.add(buf, sMomentum) : buf;
            }
            p.add_(grad, sStep);
        }
    }, closure);
}

/// <summary>TorchSharp's <see cref="Adam"/> (L2 weight decay, optional AMSGrad) with every scalar kept alive through its native calls.</summary>
public sealed class KeptScalarAdam : Adam
{
    public KeptScalarAdam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0, bool amsgrad = false)
        : base(parameters, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize: false) { }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        double beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, wd = o.weight_decay!.Value, eps = o.eps!.Value, lr = o.LearningRate!.Value;
        bool amsgrad = o.amsgrad!.Value, maximize = o.maximize!.Value;
        using Scalar sWd = wd, sBeta1 = beta1, sOneMinusBeta1 = 1 - beta1, sBeta2 = beta2, sOneMinusBeta2 = 1 - beta2, sEps = eps;
        foreach (var p in group.Parameters)
        {
            var grad = p.grad;
            if (grad is null) continue;
            if (maximize) grad = grad.neg();
            var st = (State)_state[p.Handle];
            st.step += 1;
            double bc1 = 1 - Math.Pow(beta1, st.step), bc2 = 1 - Math.Pow(beta2, st.step);
            if (wd != 0) grad = grad.add(p, sWd);
            st.exp_avg.mul_(sBeta1).add_(grad, sOneMinusBeta1);
            st.exp_avg_sq.mul_(sBeta2).addcmul_(grad, grad.conj(), sOneMinusBeta2);
            Tensor second = st.exp_avg_sq;
            if (amsgrad)
            {
                var old = st.max_exp_avg_sq;
                st.max_exp_avg_sq = torch.maximum(old, st.exp_avg_sq).DetachFromDisposeScope();
                old.Dispose();
                second = st.max_exp_avg_sq;
            }
            using Scalar sRootBc2 = Math.Sqrt(bc2), sStep = -lr / bc1;
            var denom = second.sqrt().div_(sRootBc2).PlusInPlace(sEps);
            p.addcdiv_(st.exp_avg, denom, sStep);
        }
    }, closure);
}

/// <summary>TorchSharp's <see cref="RMSProp"/> (PyTorch semantics: eps outside the root) with every scalar kept alive through its native calls.</summary>
public sealed class KeptScalarRmsProp : RMSProp
{
    public KeptScalarRmsProp(IEnumerable<Parameter> parameters, double lr = 1e-3, double alpha = 0.99, double eps = 1e-8, double weight_decay = 0, double momentum = 0, bool centered = false)
        : base(parameters, lr, alpha, eps, weight_decay, momentum, centered, maximize: false) { }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        double alpha = o.alpha!.Value, momentum = o.momentum!.Value, wd = o.weight_decay!.Value, eps = o.eps!.Value, lr = o.LearningRate!.Value;
        bool centered = o.centered!.Value, maximize = o.maximize!.Value;
        using Scalar sWd = wd, sAlpha = alpha, sOneMinusAlpha = 1 - alpha, sEps = eps, sMomentum = momentum, sMinusLr = -lr, sMinusOne = -1.0;
        foreach (var p in group.Parameters)
        {
            var grad = p.grad;
            if (grad is null) continue;
            if (maximize) grad = grad.neg();
            var st = (State)_state[p.Handle];
            st.step += 1;
            if (wd != 0) grad = grad.add(p, sWd);
            st.square_avg.mul_(sAlpha).addcmul_(grad, grad, sOneMinusAlpha);
            Tensor avg;
            if (centered)
            {
                st.grad_avg.mul_(sAlpha).add_(grad, sOneMinusAlpha);
                avg = st.square_avg.addcmul(st.grad_avg, st.grad_avg, sMinusOne).sqrt_().PlusInPlace(sEps);
            }
            else avg = st.square_avg.sqrt().PlusInPlace(sEps);
            if (momentum > 0)
            {
                st.momentum_buffer.mul_(sMomentum).addcdiv_(grad, avg);
                p.add_(st.momentum_buffer, sMinusLr);
            }
            else p.addcdiv_(grad, avg, sMinusLr);
        }
    }, closure);
}
