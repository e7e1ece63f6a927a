using Tailor.Util;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Tailor.Models;

/// <summary>
/// BatchNorm over (N, C, H, W), computing exactly what TorchSharp 0.107's <c>nn.BatchNorm2d</c> computes
/// (PyTorch's semantics, the same parameters, buffers and state_dict keys), except that it counts its
/// batches with Scalars that live for the whole process.
/// </summary>
/// <remarks>
/// Why: TorchSharp's BatchNorm counts batches with <c>num_batches_tracked.add_(1)</c>, which passes the 1
/// and the alpha as temporary Scalars that nothing holds during the native call; a garbage collection
/// started by another thread in that window frees the at::Scalar while libtorch reads it (the race
/// described in <see cref="Util.KeptScalars"/>). Every training step of every network makes this call once
/// per BatchNorm, more often than any other such call.
/// </remarks>
public sealed class BatchNorm2d : TorchSharp.Modules.BatchNorm
{
    // An integer one, as TorchSharp's add_(1) passes (valid for the int64 counter); PlusInPlace keeps the alpha.
    private static readonly Scalar One = 1L.ToScalar();

    public BatchNorm2d(long features, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool trackRunningStats = true)
        : base(features, eps, momentum, affine, trackRunningStats, null, null, nameof(BatchNorm2d)) { }

    protected override void ValidateInputDimensions(Tensor input)
    {
        if (input.ndim != 4) throw new ArgumentException($"BatchNorm2d: expected a 4-D input (N, C, H, W), got {input.ndim}-D");
    }

    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double factor = momentum ?? 0.0;
        if (training && track_running_stats && num_batches_tracked is { } n)
        {
            n.PlusInPlace(One);
            // momentum null: a cumulative average over the batches seen (BN recalibration uses this)
            factor = momentum ?? 1.0 / (long)n;
        }
        // batch statistics in training, and in eval when there are no running statistics
        bool useBatchStats = training || (running_mean is null && running_var is null);
        bool passStats = !training || track_running_stats;
        return F.batch_norm(input, passStats ? running_mean : null, passStats ? running_var : null, weight, bias, useBatchStats, factor, eps);
    }
}
