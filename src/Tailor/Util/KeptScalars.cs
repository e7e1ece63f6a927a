using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Util;

/// <summary>
/// Tensor additions whose alpha is a Scalar that lives as long as the process.
/// </summary>
/// <remarks>
/// Why: TorchSharp 0.107's <c>a + b</c> and <c>a.add_(b)</c> pass alpha = 1 as a temporary Scalar that
/// only the finalizer owns; its handle is read and the managed object is dead before the native call
/// returns, so a garbage collection triggered by another thread during the call can free the at::Scalar
/// while libtorch reads it (the "Expected false to be true" abort from Scalar.h; the same race as in
/// Training/Optimizers/KeptScalarOptimizers.cs). Forward passes of residual blocks, cells and mixed ops
/// add tensors on every step, so they use these instead of the operator.
/// </remarks>
public static class KeptScalars
{
    // An integer one, as TorchSharp's own add(Tensor) passes: valid alpha for float and integer tensors.
    private static readonly Scalar One = 1L.ToScalar();

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

    /// <summary>Adds <paramref name="y"/> to a running sum that starts empty (null).</summary>
    public static Tensor Accumulate(Tensor? sum, Tensor y) => sum is null ? y : sum.add(y, One);
}
