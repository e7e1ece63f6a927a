using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Util;

/// <summary>
/// Tensor arithmetic whose Scalars outlive the native call: additions with a process-lifetime alpha,
/// scalar multiplies, divides and adds with a Scalar held until the call returns.
/// </summary>
/// <remarks>
/// Why: TorchSharp 0.107's <c>a + b</c> and <c>a.add_(b)</c> pass alpha = 1 as a temporary Scalar that
/// only the finalizer owns; its handle is read and the managed object is dead before the native call
/// returns, so a garbage collection triggered by another thread during the call can free the at::Scalar
/// while libtorch reads it (the "Expected false to be true" abort from Scalar.h; the same race as in
/// Training/Optimizers/KeptScalarOptimizers.cs); <c>a * 0.5</c>, <c>a / t</c>, <c>a + 0.5</c> make such
/// temporaries too. Forward passes of residual blocks, cells and mixed ops and the losses of every step
/// use these instead of the operators, and <see cref="Models.BatchNorm2d"/> replaces TorchSharp's BatchNorm,
/// which counts its batches with such a temporary.
/// </remarks>
public static class KeptScalars
{
    // An integer one, as TorchSharp's own add(Tensor) passes: valid alpha for float and integer tensors.
    private static readonly Scalar One = 1L.ToScalar();
    private static readonly Scalar Zero = 0L.ToScalar();
    private static readonly Scalar Two = 2L.ToScalar();

    /// <summary><paramref name="a"/> + <paramref name="b"/> (broadcasting), without a temporary Scalar.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>In-place <paramref name="a"/> += <paramref name="b"/>, without a temporary Scalar.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>In-place <paramref name="a"/> += <paramref name="s"/> (TorchSharp's add_(Scalar) would add a temporary alpha).</summary>
    public static Tensor PlusInPlace(this Tensor a, Scalar s) => a.add_(s, One);

    /// <summary><paramref name="a"/> * <paramref name="v"/>, the Scalar alive until the call returns.</summary>
    public static Tensor Times(this Tensor a, double v) { using Scalar s = v; return a.mul(s); }

    /// <summary><paramref name="a"/> / <paramref name="v"/>, the Scalar alive until the call returns.</summary>
    public static Tensor Over(this Tensor a, double v) { using Scalar s = v; return a.div(s); }

    /// <summary><paramref name="a"/> + <paramref name="v"/>, the Scalar alive until the call returns.</summary>
    public static Tensor PlusScalar(this Tensor a, double v) { using Scalar s = v; return a.add(s, One); }

    /// <summary>1 - <paramref name="a"/> (an indicator's complement), without a temporary Scalar alive past its call.</summary>
    public static Tensor OneMinus(this Tensor a) => a.neg().PlusScalar(1);

    /// <summary><paramref name="a"/> squared elementwise (what TorchSharp's square() and pow(2) compute).</summary>
    public static Tensor Squared(this Tensor a) => a.pow(Two);

    /// <summary><paramref name="acc"/> + <paramref name="a"/> * <paramref name="b"/> (addcmul with value 1).</summary>
    public static Tensor PlusProduct(this Tensor acc, Tensor a, Tensor b) => acc.addcmul(a, b, One);

    /// <summary>The mask <paramref name="a"/> &lt; <paramref name="v"/>.</summary>
    public static Tensor LessThan(this Tensor a, double v) { using Scalar s = v; return a.lt(s); }

    /// <summary>The mask <paramref name="a"/> &gt;= 0.</summary>
    public static Tensor AtLeastZero(this Tensor a) => a.ge(Zero);

    /// <summary>In-place clamp to [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Tensor ClampInPlace(this Tensor a, double min, double max) { using Scalar lo = min; using Scalar hi = max; return a.clamp_(lo, hi); }

    /// <summary>A tensor of <paramref name="shape"/> filled with <paramref name="v"/>.</summary>
    public static Tensor Filled(long[] shape, double v, ScalarType dtype, Device device) { using Scalar s = v; return full(shape, s, dtype: dtype, device: device); }

    /// <summary>Adds <paramref name="y"/> to a running sum that starts empty (null).</summary>
    public static Tensor Accumulate(Tensor? sum, Tensor y) => sum is null ? y : sum.add(y, One);
}
