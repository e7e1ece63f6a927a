using Tailor.Util;
using static TorchSharp.torch;

namespace Tailor.Models.Cells;

/// <summary>
/// DropBlock (Ghiasi et al., 2018) on a feature map: drops square blocks of side
/// <c>blockSize</c> so that about a fraction <c>p</c> of the positions is zeroed, independently per
/// sample and channel, then rescales by (positions / kept positions) so the expectation is unchanged.
/// gamma = p / bs^2 * (H * W) / ((H - bs + 1) * (W - bs + 1)); block centres are drawn only where a
/// whole block fits. With p = 0 it returns its input.
/// </summary>
public static class DropBlock
{
    public static Tensor Apply(Tensor x, double p, int blockSize, Generator? gen)
    {
        if (p <= 0) return x;
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        int bs = (int)Math.Min(blockSize, Math.Min(h, w));
        double gamma = p / (bs * bs) * (h * w) / ((double)(h - bs + 1) * (w - bs + 1));
        gamma = Math.Min(1.0, gamma);
        Tensor keep;
        double scale;
        using (no_grad())
        {
        var centres = bernoulli(KeptScalars.Filled(new long[] { n, c, h - bs + 1, w - bs + 1 }, gamma, x.dtype, x.device), generator: gen);
        // pad so that a centre at (i, j) of the valid grid covers rows i..i+bs-1, then max-pool to grow blocks
        var padded = nn.functional.pad(centres, new long[] { bs - 1, bs - 1, bs - 1, bs - 1 });
        var block = nn.functional.max_pool2d(padded, new long[] { bs, bs }, new long[] { 1, 1 });
        keep = block.OneMinus();
        double kept = keep.sum().item<float>();
        scale = kept > 0 ? keep.numel() / kept : 0;
        }
        return x * keep.Times(scale);
    }
}
