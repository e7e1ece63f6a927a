using Tailor.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Models.SinglePath;

/// <summary>How a weight group's norm is compared with its threshold.</summary>
public enum NormMode
{
    /// <summary>Plain L2 norm of the whole group (the paper). At our scale the margins start at 10-38 and nothing moves.</summary>
    Raw,
    /// <summary>L2 norm divided by sqrt(group size), i.e. the RMS of the group: margins of order one, so thresholds learn
    /// in a few hundred steps (methods.md §1 "At small scale"). Tailor's default.</summary>
    Rms,
}

public static class Indicator
{
    /// <summary>
    /// Straight-through indicator: forward 1[x &gt;= 0], backward d sigmoid(x)/dx
    /// (hard - sigmoid(x).detach() + sigmoid(x)).
    /// </summary>
    public static Tensor StraightThrough(Tensor x)
    {
        var soft = sigmoid(x);
        var hard = x.AtLeastZero().to_type(x.dtype);
        return (hard - soft.detach()).Plus(soft);
    }

    /// <summary>Indicator dropout (phase 1): keep with probability <paramref name="keep"/>, scale kept values by 1/keep.</summary>
    public static Tensor Dropout(Tensor d, double keep, Generator? gen)
    {
        var mask = rand(d.shape, dtype: d.dtype, generator: gen).LessThan(keep).to_type(d.dtype);
        return (d * mask).Over(keep);
    }

    public static Tensor GroupNorm(Tensor w, NormMode mode)
    {
        var n = w.Squared().sum().sqrt();
        return mode == NormMode.Rms ? n.Over(Math.Sqrt(w.numel())) : n;
    }
}
