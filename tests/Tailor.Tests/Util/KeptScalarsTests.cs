using Tailor.Util;
using static TorchSharp.torch;

namespace Tailor.Tests.Util;

public class KeptScalarsTests
{
    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    [Fact]
    public void KeptScalarArithmeticEqualsTorchSharpsOperatorsOnFloatAndIntegerTensors()
    {
        using var scope = NewDisposeScope();
        var a = randn(3, 4); var b = randn(4); // broadcast like a residual or a bias
        Assert.True(Same(a.Plus(b), a + b));
        Assert.True(Same(a.Times(-2.5), a * -2.5));
        Assert.True(Same(a.Over(3.0), a / 3.0));
        Assert.True(Same(a.PlusScalar(0.25), a + 0.25));
        Assert.True(Same(a.OneMinus(), 1 - a));
        Assert.True(Same(KeptScalars.Accumulate(null, a), a));
        Assert.True(Same(KeptScalars.Accumulate(a, b), a + b));
        var c = a.clone(); c.PlusInPlace(b);
        Assert.True(Same(c, a + b));
        var d = a.clone(); d.PlusInPlace(1.5);
        Assert.True(Same(d, a + 1.5));
        // the kept alpha is an integer one, as TorchSharp's own: valid for integer tensors too
        var i = arange(6, dtype: ScalarType.Int64); var j = ones(6, dtype: ScalarType.Int64);
        Assert.True(Same(i.Plus(j), i + j));
        Assert.Equal(ScalarType.Int64, i.Plus(j).dtype);
        // gradients flow as through the operators
        var x = randn(5, requires_grad: true); var y = randn(5, requires_grad: true);
        x.Plus(y).Times(2.0).sum().backward();
        Assert.True(Same(x.grad!, full(5, 2.0f)) && Same(y.grad!, full(5, 2.0f)));
    }

    [Fact]
    public void TheOtherKeptOpsEqualTorchSharpsOwn()
    {
        using var scope = NewDisposeScope();
        var a = randn(3, 4); var b = randn(3, 4); var c = randn(4);
        Assert.True(Same(a.Squared(), a.square()));
        Assert.True(Same(a.Squared(), a.pow(2)));
        Assert.True(Same(a.PlusProduct(b, c), addcmul(a, b, c, 1)));
        Assert.True(Same(a.LessThan(0.3), a.lt(0.3)));
        Assert.True(Same(a.AtLeastZero(), ge(a, 0)));
        Assert.True(Same(a.clone().ClampInPlace(-0.5, 0.7), a.clamp(-0.5, 0.7)));
        Assert.True(Same(KeptScalars.Filled(new long[] { 2, 3 }, 0.125, ScalarType.Float32, CPU), full(new long[] { 2, 3 }, 0.125)));
        // the gradient of the NSR-style square is the operator's, bit for bit
        var x = randn(6, requires_grad: true); var x2 = x.detach().clone().requires_grad_(true);
        x.Squared().sum().backward(); x2.square().sum().backward();
        Assert.True(Same(x.grad!, x2.grad!));
    }
}
