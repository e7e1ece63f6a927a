using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Models.Cells;

/// <summary>
/// BatchNorm settings of cell modules. Search supernets use affine = false (DARTS) and batch
/// statistics always (no running statistics), so a supernet evaluated on a validation batch uses
/// that batch's statistics (DARTS-PT's protocol) and train/eval mode do not change its output.
/// Derived (trainable) networks use affine BN with running statistics.
/// </summary>
public sealed record CellBn(bool Affine, bool TrackRunningStats, double Momentum = 0.1, double Eps = 1e-5)
{
    public static CellBn Search { get; } = new(false, false);
    public static CellBn Train { get; } = new(true, true);

    public BatchNorm2d Make(long c) => new(c, eps: Eps, momentum: Momentum, affine: Affine, trackRunningStats: TrackRunningStats);
}

/// <summary>
/// A candidate operation on a cell edge. <see cref="Calls"/> counts forward calls, so tests can check
/// that single-path methods compute only the sampled op.
/// </summary>
public abstract class CellOp : nn.Module<Tensor, Tensor>
{
    protected CellOp(string name) : base(name) { }
    public long Calls { get; private set; }
    public void ResetCalls() => Calls = 0;
    public override Tensor forward(Tensor x)
    {
        Calls++;
        return Compute(x);
    }
    protected abstract Tensor Compute(Tensor x);
}

/// <summary>ReLU, conv (no bias), BN: NAS-Bench-201's nor_conv_kxk and DARTS's preprocessing. Keys: op.1.weight, op.2.*</summary>
public sealed class ReluConvBn : CellOp
{
    private readonly Sequential op;
    public ReluConvBn(long cin, long cout, long k, long stride, long padding, long dilation, CellBn bn) : base("ReLUConvBN")
    {
        op = nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cout, k, stride: stride, padding: padding, dilation: dilation, bias: false), bn.Make(cout));
        RegisterComponents();
    }
    protected override Tensor Compute(Tensor x) => op.call(x);
}

/// <summary>DARTS dil_conv_kxk: ReLU, depthwise kxk dilated conv, 1x1 conv, BN.</summary>
public sealed class DilConv : CellOp
{
    private readonly Sequential op;
    public DilConv(long cin, long cout, long k, long stride, long padding, long dilation, CellBn bn) : base("DilConv")
    {
        op = nn.Sequential(nn.ReLU(),
            nn.Conv2d(cin, cin, k, stride: stride, padding: padding, dilation: dilation, groups: cin, bias: false),
            nn.Conv2d(cin, cout, 1, bias: false), bn.Make(cout));
        RegisterComponents();
    }
    protected override Tensor Compute(Tensor x) => op.call(x);
}

/// <summary>DARTS sep_conv_kxk: two stacked (ReLU, depthwise kxk, 1x1, BN); the stride is on the first.</summary>
public sealed class SepConv : CellOp
{
    private readonly Sequential op;
    public SepConv(long cin, long cout, long k, long stride, long padding, CellBn bn) : base("SepConv")
    {
        op = nn.Sequential(nn.ReLU(),
            nn.Conv2d(cin, cin, k, stride: stride, padding: padding, groups: cin, bias: false),
            nn.Conv2d(cin, cin, 1, bias: false), bn.Make(cin),
            nn.ReLU(),
            nn.Conv2d(cin, cin, k, stride: 1, padding: padding, groups: cin, bias: false),
            nn.Conv2d(cin, cout, 1, bias: false), bn.Make(cout));
        RegisterComponents();
    }
    protected override Tensor Compute(Tensor x) => op.call(x);
}

/// <summary>3x3 average pool (padding 1, padding not counted) or max pool; DARTS's search cell follows it with a BN (affine = false).</summary>
public sealed class PoolOp : CellOp
{
    private readonly nn.Module<Tensor, Tensor> pool;
    private readonly BatchNorm2d? bn;
    public bool IsMax { get; }
    public PoolOp(bool max, long c, long stride, CellBn? bnAfter) : base(max ? "MaxPool" : "AvgPool")
    {
        IsMax = max;
        pool = max ? nn.MaxPool2d(3, stride: stride, padding: 1) : nn.AvgPool2d(3, stride: stride, padding: 1, count_include_pad: false);
        if (bnAfter != null) bn = bnAfter.Make(c);
        RegisterComponents();
    }
    protected override Tensor Compute(Tensor x)
    {
        var y = pool.call(x);
        return bn is null ? y : bn.call(y);
    }
}

/// <summary>skip_connect at stride 1: the identity.</summary>
public sealed class IdentityOp : CellOp
{
    public IdentityOp() : base("Identity") { RegisterComponents(); }
    protected override Tensor Compute(Tensor x) => x;
}

/// <summary>The 'none' op: zeros of the output shape. Search and derived cells never call it (it contributes nothing).</summary>
public sealed class ZeroOp : CellOp
{
    private readonly long _stride;
    public ZeroOp(long stride) : base("Zero") { _stride = stride; RegisterComponents(); }
    /// <summary>The zeros without counting a call.</summary>
    public Tensor Zeros(Tensor x) => Compute(x);
    protected override Tensor Compute(Tensor x) =>
        _stride == 1 ? x.Times(0.0) : x[.., .., TensorIndex.Slice(null, null, _stride), TensorIndex.Slice(null, null, _stride)].Times(0.0);
}

/// <summary>DARTS FactorizedReduce: ReLU, two 1x1 stride-2 convs (the second on the input shifted by one pixel), concat, BN.</summary>
public sealed class FactorizedReduce : CellOp
{
    private readonly ReLU relu;
    private readonly Conv2d conv_1, conv_2;
    private readonly BatchNorm2d bn;
    public FactorizedReduce(long cin, long cout, CellBn bnOpt) : base("FactorizedReduce")
    {
        if (cout % 2 != 0) throw new TailorException($"FactorizedReduce: output channels {cout} must be even");
        relu = nn.ReLU();
        conv_1 = nn.Conv2d(cin, cout / 2, 1, stride: 2, padding: 0L, bias: false);
        conv_2 = nn.Conv2d(cin, cout / 2, 1, stride: 2, padding: 0L, bias: false);
        bn = bnOpt.Make(cout);
        RegisterComponents();
    }
    protected override Tensor Compute(Tensor x)
    {
        var r = relu.call(x);
        var shifted = r[.., .., TensorIndex.Slice(1, null), TensorIndex.Slice(1, null)];
        return bn.call(cat(new[] { conv_1.call(r), conv_2.call(shifted) }, 1));
    }
}

/// <summary>
/// NAS-Bench-201's residual reduction block: ReLUConvBN 3x3 stride 2, ReLUConvBN 3x3; shortcut
/// 2x2 average pool + 1x1 conv (no BN).
/// </summary>
public sealed class ResNetBasicBlock : nn.Module<Tensor, Tensor>
{
    private readonly ReluConvBn conv_a, conv_b;
    private readonly Sequential downsample;
    public ResNetBasicBlock(long cin, long cout, CellBn bn) : base("ResNetBasicblock")
    {
        conv_a = new ReluConvBn(cin, cout, 3, 2, 1, 1, bn);
        conv_b = new ReluConvBn(cout, cout, 3, 1, 1, 1, bn);
        downsample = nn.Sequential(nn.AvgPool2d(2, stride: 2, padding: 0), nn.Conv2d(cin, cout, 1, bias: false));
        RegisterComponents();
    }
    public override Tensor forward(Tensor x) => downsample.call(x).Plus(conv_b.call(conv_a.call(x)));

    public static long ParamCount(long cin, long cout, bool affine) =>
        9 * cin * cout + 9 * cout * cout + cin * cout + (affine ? 4 * cout : 0);
}

/// <summary>Drop path (DARTS's derived networks): zeroes whole samples with probability p, scales the rest by 1/(1-p).</summary>
public static class DropPath
{
    public static Tensor Apply(Tensor x, double p, Generator? gen)
    {
        if (p <= 0) return x;
        var keep = bernoulli(full(new long[] { x.shape[0], 1, 1, 1 }, 1 - p, dtype: x.dtype, device: x.device), generator: gen);
        return x.Over(1 - p).mul(keep);
    }
}
