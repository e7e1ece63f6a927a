using Tailor.Models.Cells;
using Tailor.Search.Differentiable;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Tests.Cells;

public class SecondOrderTests
{
    [Fact]
    public void VirtualStepIsTheOptimizersOwnStepWithMomentumAndWeightDecay()
    {
        using var scope = NewDisposeScope();
        foreach (bool nesterov in new[] { false, true })
        {
            var p = randn(5).requires_grad_(true);
            var sgd = new SgdMomentum(new[] { p }, 0.9, 0.01, nesterov);
            for (int i = 0; i < 3; i++) // build up a momentum buffer
            {
                sgd.ZeroGrad();
                (p * p * (i + 1)).sum().backward();
                sgd.Step(0.1);
            }
            var g = randn(5);
            var v = sgd.VirtualStep(new[] { g }, 0.1)[0];
            // the real step with the same gradient lands on the same weights
            sgd.ZeroGrad();
            using (no_grad()) p.grad!.copy_(g);
            sgd.Step(0.1);
            Assert.True(v.allclose(p.detach(), 1e-6, 1e-6));
            // and it is DARTS's w - lr * (mu * v + g + wd * w) for plain momentum
        }
    }

    /// <summary>
    /// f(alpha) = L_val(w'(alpha), alpha) with w' = w - lr * (mu * v + grad_w L_train(w, alpha) + wd * w): the exact
    /// function DARTS's second order differentiates. Its central finite difference (double precision) must match the
    /// hypergradient (virtual step + finite-difference Hessian-vector product). The problem is a tiny smooth two-edge
    /// "cell" (tanh ops mixed by softmax(alpha)): with ReLU networks grad_alpha L jumps wherever a perturbation crosses
    /// a kink, so finite differences of it do not converge and cannot check anything.
    /// </summary>
    [Fact]
    public void HypergradientMatchesFiniteDifferencesOnATinyProblem()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(11);
        const ScalarType D = ScalarType.Float64;
        Tensor P(params long[] shape) => (randn(shape, dtype: D, generator: gen) * 0.5).requires_grad_(true);
        var ws = new List<Tensor> { P(4, 5), P(4, 5), P(5, 5), P(5, 5), P(5, 3) }; // edge 1: Wa, Wb; edge 2: Ua, Ub; classifier V
        var alpha = (randn(new long[] { 2, 2 }, dtype: D, generator: gen) * 0.7).requires_grad_(true);
        var xt = randn(new long[] { 12, 4 }, dtype: D, generator: gen); var yt = tensor(new long[] { 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2 });
        var xv = randn(new long[] { 12, 4 }, dtype: D, generator: gen); var yv = tensor(new long[] { 2, 2, 1, 0, 0, 1, 1, 2, 0, 0, 2, 1 });
        Tensor Loss(Tensor x, Tensor y, Tensor a)
        {
            var w = nn.functional.softmax(a, 1);
            var h1 = tanh(x.matmul(ws[0])) * w[0, 0] + tanh(x.matmul(ws[1])) * w[0, 1];
            var h2 = tanh(h1.matmul(ws[2])) * w[1, 0] + tanh(h1.matmul(ws[3])) * w[1, 1];
            return nn.functional.cross_entropy(h2.matmul(ws[4]), y);
        }
        foreach (bool nesterov in new[] { false, true })
        {
            var sgd = new SgdMomentum(ws, 0.9, 3e-3, nesterov);
            // two real steps so that the momentum buffers are non-zero
            for (int i = 0; i < 2; i++) { sgd.ZeroGrad(); Loss(xt, yt, alpha.detach()).backward(); sgd.Step(0.1); }
            const double lr = 0.1;
            var hyper = SecondOrder.Hypergradient(sgd, new[] { alpha }, lr,
                diff => Loss(xt, yt, diff ? alpha : alpha.detach()), () => Loss(xv, yv, alpha), r: 0.01)[0];
            var first = SecondOrder.Grad(Loss(xv, yv, alpha), new[] { alpha })[0];
            var backup = ws.Select(p => p.detach().clone()).ToArray();
            double F(Tensor a)
            {
                var g = SecondOrder.Grad(Loss(xt, yt, a), ws);
                var wp = sgd.VirtualStep(g, lr);
                using (no_grad()) for (int i = 0; i < ws.Count; i++) ws[i].copy_(wp[i]);
                double v;
                using (no_grad()) v = Loss(xv, yv, a).item<double>();
                using (no_grad()) for (int i = 0; i < ws.Count; i++) ws[i].copy_(backup[i]);
                return v;
            }
            var h = hyper.data<double>().ToArray();
            var f1 = first.data<double>().ToArray();
            double maxImplicit = 0;
            for (int k = 0; k < 4; k++)
            {
                const double eps = 1e-6;
                var ap = alpha.detach().clone(); ap.view(-1)[k] += eps;
                var am = alpha.detach().clone(); am.view(-1)[k] -= eps;
                double fd = (F(ap) - F(am)) / (2 * eps);
                Assert.True(Math.Abs(fd - h[k]) <= 1e-3 * Math.Abs(fd) + 1e-8, $"nesterov {nesterov}, alpha[{k}]: finite difference {fd:E6}, hypergradient {h[k]:E6}, first order {f1[k]:E6}");
                maxImplicit = Math.Max(maxImplicit, Math.Abs(h[k] - f1[k]) / (Math.Abs(fd) + 1e-12));
            }
            Assert.True(maxImplicit > 1e-2, "the implicit (Hessian) term matters on this problem");
            // the weights are left exactly as they were
            for (int i = 0; i < ws.Count; i++) Assert.True(ws[i].allclose(backup[i], 0, 0));
        }
    }
}
