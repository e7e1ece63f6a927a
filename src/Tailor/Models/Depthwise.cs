using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Models;

/// <summary>
/// Depthwise convolution with fast paths for tiny feature maps. oneDNN (in libtorch 2.10 and in
/// PyTorch 1.13 alike) computes the weight gradient of a zero-padded depthwise conv on maps of 2x2
/// or less with its generic gemm path ("x64:gemm:jit"), 20-110 ms per layer at batch 128 here,
/// where larger maps take the jit_dw kernel; on 32x32 inputs MobileNetV2's last seven layers run at
/// 2x2 and 1x1 and that path was half of a training step. So, for maps of at most 2x2:
/// <list type="bullet">
/// <item>a 1x1 output is a sum of the few taps that read real input (a 1x1 map with a centred
/// kernel is a single per-channel scale), which autograd differentiates elementwise;</item>
/// <item>otherwise the input is zero-padded explicitly and convolved without padding, which oneDNN
/// runs with jit_dw.</item>
/// </list>
/// Same result up to float rounding; same parameters and state_dict keys (bench/README.md has the timings).
/// </summary>
public static class Depthwise
{
    /// <summary>Maps with both sides at most this size take the fast paths.</summary>
    public const long SmallMapMax = 2;

    /// <summary>Process-wide switch of the fast paths (on; off only to measure them).</summary>
    public static bool FastSmallMaps { get; set; } = true;

    /// <summary><paramref name="conv"/> applied to <paramref name="x"/>, through the fast path when it is depthwise and the map is tiny.</summary>
    public static Tensor Forward(Conv2d conv, Tensor x)
    {
        if (!FastSmallMaps || x.dim() != 4 || x.shape[2] > SmallMapMax || x.shape[3] > SmallMapMax || !IsPlainDepthwise(conv))
            return conv.call(x);
        long sh = conv.stride![0], sw = conv.stride[1], ph = conv.padding![0], pw = conv.padding[1];
        long kh = conv.kernel_size![0], kw = conv.kernel_size[1];
        long ho = (x.shape[2] + 2 * ph - kh) / sh + 1, wo = (x.shape[3] + 2 * pw - kw) / sw + 1;
        if (ho == 1 && wo == 1) return ShiftAdd(x, conv.weight!, sh, sw, ph, pw);
        if (ph == 0 && pw == 0) return conv.call(x);
        var xp = nn.functional.pad(x, new[] { pw, pw, ph, ph });
        return nn.functional.conv2d(xp, conv.weight!, null, new[] { sh, sw }, new long[] { 0, 0 }, new long[] { 1, 1 }, conv.groups);
    }

    static bool IsPlainDepthwise(Conv2d c) =>
        c.groups == c.in_channels && c.in_channels == c.out_channels && c.bias is null && !c.transposed
        && c.padding_mode == PaddingModes.Zeros && c.padding is { Length: 2 } && c.stride is { Length: 2 }
        && c.dilation is { Length: 2 } d && d[0] == 1 && d[1] == 1;

    /// <summary>Depthwise conv (weight C x 1 x kh x kw, zero padding) as a sum of shifted slices.</summary>
    public static Tensor ShiftAdd(Tensor x, Tensor weight, long strideH, long strideW, long padH, long padW)
    {
        long c = x.shape[1], h = x.shape[2], w = x.shape[3], kh = weight.shape[2], kw = weight.shape[3];
        long ho = (h + 2 * padH - kh) / strideH + 1, wo = (w + 2 * padW - kw) / strideW + 1;
        if (ho < 1 || wo < 1) throw new ArgumentException($"depthwise conv: a {kh}x{kw} kernel does not fit a {h}x{w} map");
        var xp = padH > 0 || padW > 0 ? nn.functional.pad(x, new[] { padW, padW, padH, padH }) : x;
        var wk = weight.select(1, 0); // C x kh x kw
        Tensor? acc = null;
        for (long a = 0; a < kh; a++)
        {
            if (!TouchesData(a, ho, strideH, padH, h)) continue;
            var rows = xp.slice(2, a, a + strideH * (ho - 1) + 1, strideH);
            for (long b = 0; b < kw; b++)
            {
                if (!TouchesData(b, wo, strideW, padW, w)) continue;
                var patch = rows.slice(3, b, b + strideW * (wo - 1) + 1, strideW);
                var tap = wk.select(1, a).select(1, b).view(1, c, 1, 1);
                acc = acc is null ? patch * tap : acc.PlusProduct(patch, tap);
            }
        }
        return acc!;
    }

    /// <summary>Whether tap offset <paramref name="t"/> reads at least one real (unpadded) input position.</summary>
    static bool TouchesData(long t, long outSize, long stride, long pad, long inSize)
    {
        for (long i = 0; i < outSize; i++)
        {
            long src = i * stride + t - pad;
            if (src >= 0 && src < inSize) return true;
        }
        return false;
    }
}
