using Tailor.Models;
using Tailor.Models.Cells;
using static TorchSharp.torch;

namespace Tailor.Tests.Models;

// Sets the libtorch thread count, so it runs with the other tests that depend on global libtorch state.
[Collection("serial")]
public class ChannelsLastTests
{
    [Fact]
    public void ChannelsLastKeepsShapeAndValuesAndIsANoOpWhenAlreadyChannelsLast()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 4, 5);
        Assert.False(Layers.IsChannelsLast(x));
        var cl = Layers.ChannelsLast(x);
        Assert.True(Layers.IsChannelsLast(cl));
        Assert.Equal(x.shape, cl.shape);
        Assert.True(x.eq(cl).all().item<bool>());
        Assert.Equal(cl.Handle, Layers.ChannelsLast(cl).Handle);
        var v = randn(3, 4);
        Assert.Equal(v.Handle, Layers.ChannelsLast(v).Handle); // not an image batch
    }

    /// <summary>
    /// The case that returned NaN input gradients through libtorch's NCHW convolution backward (8 channels,
    /// 2 threads, AVX-512): an NCHW batch into a network must train with finite gradients everywhere.
    /// </summary>
    [Fact]
    public void FewChannelNetworksGetFiniteGradientsFromNchwBatchesWithTwoThreads()
    {
        int threads = get_num_threads();
        set_num_threads(2);
        try
        {
            using var scope = NewDisposeScope();
            manual_seed(1);
            using var net = CellNetworks.Build(CellNetSpec.Nb201(Nb201Cell.Parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"), 8, 1));
            var x = randn(16, 3, 32, 32); var y = arange(16).remainder(10);
            for (int i = 0; i < 25; i++)
            {
                using var step = NewDisposeScope();
                net.zero_grad();
                nn.functional.cross_entropy(net.call(x), y).backward();
                foreach (var (name, p) in net.named_parameters())
                    Assert.True(p.grad is null || p.grad.isfinite().all().item<bool>(), $"step {i}: {name} has a non-finite gradient");
            }
        }
        finally { set_num_threads(threads); }
    }
}
