using Tailor.Arch;
using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Models;

/// <summary>How modules are initialised and normalised (the originals differ: torchvision vs TF).</summary>
public sealed record BuildOptions
{
    /// <summary>"torch": kaiming-normal fan-out on convs (torchvision), normal(0, 0.01) on the classifier.
    /// "tf": TF-style fan-out, where a depthwise kernel's fan-out is k*k (Single-Path NAS, MnasNet, EfficientNet originals).</summary>
    public string Init { get; init; } = "torch";
    /// <summary>BatchNorm momentum in Torch terms (TF's 0.99 decay is 0.01 here).</summary>
    public double BnMomentum { get; init; } = 0.1;
    public double BnEps { get; init; } = 1e-5;
    /// <summary>Overrides the architecture's head dropout when set.</summary>
    public double? Dropout { get; init; }
    public static BuildOptions Default { get; } = new();
    public static BuildOptions TensorFlow { get; } = new() { Init = "tf", BnMomentum = 0.01, BnEps = 1e-3 };
}

public static class Layers
{
    /// <summary>
    /// A CPU image batch in channels-last memory order (same NCHW shape; returned as is when it already is).
    /// The NAS-Bench-201 cell networks call this first (the Trainer and the Single-Path loader do it for the
    /// other networks): on CPU channels-last is faster, and libtorch 2.10's oneDNN picks an
    /// NCHW convolution backward for few (e.g. 3 or 8) channels that, with more than one thread on AVX-512
    /// CPUs (AMD EPYC here), sometimes returns NaN input gradients; the channels-last kernels do not
    /// (tests/Tailor.Tests/Models/ChannelsLastTests.cs).
    /// </summary>
    public static Tensor ChannelsLast(Tensor x)
    {
        if (x.dim() != 4 || x.device_type != DeviceType.CPU || IsChannelsLast(x)) return x;
        return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }

    /// <summary>
    /// A batch in plain NCHW order. The DARTS-space networks use this instead of <see cref="ChannelsLast"/>:
    /// with channels-last batches their ops (dilated/separable depthwise convs, factorized reduce on
    /// sliced maps) corrupt the native heap in libtorch 2.10 (CellSearchTests crashed the test host);
    /// they have no few-channel dense 3x3 conv whose input gradient is needed, so NCHW is safe for them.
    /// </summary>
    public static Tensor Nchw(Tensor x) => x.dim() == 4 && !x.is_contiguous() ? x.contiguous() : x;

    /// <summary>Whether a 4-D tensor is laid out densely as N, H, W, C.</summary>
    public static bool IsChannelsLast(Tensor x)
    {
        if (x.dim() != 4) return false;
        long[] sh = x.shape, st = x.stride();
        long c = sh[1], h = sh[2], w = sh[3];
        return (c == 1 || st[1] == 1) && (w == 1 || st[3] == c) && (h == 1 || st[2] == w * c) && (sh[0] == 1 || st[0] == h * w * c);
    }

    public static nn.Module<Tensor, Tensor> Act(Activation a) => a switch
    {
        Activation.None => nn.Identity(),
        Activation.Relu => nn.ReLU(),
        Activation.Relu6 => nn.ReLU6(),
        Activation.Swish => nn.SiLU(),
        Activation.HSwish => nn.Hardswish(),
        Activation.Sigmoid => nn.Sigmoid(),
        Activation.HSigmoid => nn.Hardsigmoid(),
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    public static Conv2d Conv(long cin, long cout, long k, long stride = 1, long groups = 1, long? padding = null, bool bias = false) =>
        nn.Conv2d(cin, cout, k, stride: stride, padding: padding ?? k / 2, groups: groups, bias: bias);

    public static BatchNorm2d Bn(long c, BuildOptions o) => new(c, eps: o.BnEps, momentum: o.BnMomentum);

    /// <summary>Initialises convs, BNs and linears of <paramref name="m"/> like the originals.</summary>
    public static void Initialize(nn.Module m, BuildOptions o)
    {
        using var _ = no_grad();
        foreach (var (_, sub) in m.named_modules())
        {
            switch (sub)
            {
                case Conv2d c:
                {
                    var w = c.weight!;
                    long outC = w.shape[0], k = w.shape[2] * w.shape[3];
                    long groups = c.groups;
                    // Torch fan-out = out * k*k; TF's depthwise fan-out = k*k * multiplier (out/groups).
                    double fanOut = o.Init == "tf" ? k * (outC / groups) : outC * k;
                    w.normal_(0, Math.Sqrt(2.0 / fanOut));
                    c.bias?.zero_();
                    break;
                }
                case TorchSharp.Modules.NormBase b:
                    b.weight?.fill_(1);
                    b.bias?.zero_();
                    break;
                case Linear l:
                    if (o.Init == "tf")
                    {
                        double r = 1.0 / Math.Sqrt(l.weight!.shape[0]);
                        l.weight.uniform_(-r, r);
                    }
                    else l.weight!.normal_(0, 0.01);
                    l.bias?.zero_();
                    break;
            }
        }
    }
}

/// <summary>conv (no bias) + BN + activation. Keys: conv.weight, bn.{weight,bias,running_mean,running_var}.</summary>
public sealed class ConvBnAct : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly BatchNorm2d bn;
    private readonly nn.Module<Tensor, Tensor> act;

    public ConvBnAct(long cin, long cout, long k, long stride, long groups, long? padding, Activation a, BuildOptions o) : base(nameof(ConvBnAct))
    {
        conv = Layers.Conv(cin, cout, k, stride, groups, padding);
        bn = Layers.Bn(cout, o);
        act = Layers.Act(a);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => act.call(bn.call(conv.call(x)));
}

/// <summary>Squeeze-and-excitation: mean over H,W; 1x1 reduce (bias) + act; 1x1 expand (bias) + gate; scale.</summary>
public sealed class SqueezeExciteModule : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv_reduce, conv_expand;
    private readonly nn.Module<Tensor, Tensor> act, gate;

    public SqueezeExciteModule(long channels, long reduced, Activation a, Activation g) : base("SqueezeExcite")
    {
        conv_reduce = Layers.Conv(channels, reduced, 1, bias: true);
        conv_expand = Layers.Conv(reduced, channels, 1, bias: true);
        act = Layers.Act(a);
        gate = Layers.Act(g);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var s = x.mean(new long[] { 2, 3 }, keepdim: true);
        s = gate.call(conv_expand.call(act.call(conv_reduce.call(s))));
        return x * s;
    }
}

/// <summary>
/// Inverted residual (MBConv): [1x1 expand + BN + act] -> [channel shuffle] -> kxk depthwise + BN + act
/// -> [SE] -> 1x1 project + BN; residual add iff stride 1 and equal channels. timm-style key names.
/// </summary>
public sealed class MBConvModule : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d? conv_pw;
    private readonly BatchNorm2d? bn1;
    private readonly nn.Module<Tensor, Tensor>? act1;
    private readonly Conv2d conv_dw;
    private readonly BatchNorm2d bn2;
    private readonly nn.Module<Tensor, Tensor> act2;
    private readonly SqueezeExciteModule? se;
    private readonly Conv2d conv_pwl;
    private readonly BatchNorm2d bn3;
    private readonly bool _residual;
    private readonly long _shuffleGroups;

    public MBConvModule(LayerInfo info, BuildOptions o) : base("MBConv")
    {
        var b = info.Block!;
        long cin = info.InChannels, mid = info.Mid, cout = info.OutChannels;
        if (b.HasExpand)
        {
            conv_pw = Layers.Conv(cin, mid, 1, groups: b.Groups);
            bn1 = Layers.Bn(mid, o);
            act1 = Layers.Act(b.Act);
        }
        conv_dw = Layers.Conv(mid, mid, b.Kernel, b.Stride, groups: mid);
        bn2 = Layers.Bn(mid, o);
        act2 = Layers.Act(b.Act);
        if (b.Se is { } s) se = new SqueezeExciteModule(mid, info.SeReduced, s.Act, s.Gate);
        conv_pwl = Layers.Conv(mid, cout, 1, groups: b.Groups);
        bn3 = Layers.Bn(cout, o);
        _residual = info.Residual;
        _shuffleGroups = b.Shuffle ? b.Groups : 0;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var h = x;
        if (conv_pw != null) h = act1!.call(bn1!.call(conv_pw.call(h)));
        if (_shuffleGroups > 1) h = ChannelShuffle(h, _shuffleGroups);
        h = act2.call(bn2.call(Depthwise.Forward(conv_dw, h)));
        if (se != null) h = se.call(h);
        h = bn3.call(conv_pwl.call(h));
        return _residual ? h.Plus(x) : h;
    }

    public static Tensor ChannelShuffle(Tensor x, long groups)
    {
        long n = x.shape[0], c = x.shape[1], hh = x.shape[2], ww = x.shape[3];
        return x.view(n, groups, c / groups, hh, ww).transpose(1, 2).reshape(n, c, hh, ww);
    }
}

/// <summary>Skip: identity, or 1x1 conv + BN + act where stride or channels change.</summary>
public sealed class SkipModule : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d? conv;
    private readonly BatchNorm2d? bn;
    private readonly nn.Module<Tensor, Tensor>? act;

    public SkipModule(LayerInfo info, BuildOptions o) : base("Skip")
    {
        if (info.Params > 0)
        {
            conv = Layers.Conv(info.InChannels, info.OutChannels, 1, info.Block!.Stride, padding: 0);
            bn = Layers.Bn(info.OutChannels, o);
            act = Layers.Act(info.Block.Act);
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => conv == null ? x.alias() : act!.call(bn!.call(conv.call(x)));
}
