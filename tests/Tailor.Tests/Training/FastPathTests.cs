using Tailor.Arch;
using Tailor.Models;
using Tailor.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Tests.Training;

public class FastPathTests
{
    [Theory]
    [InlineData(1, 1, 3)] [InlineData(2, 1, 3)] [InlineData(2, 2, 3)] [InlineData(1, 1, 5)]
    [InlineData(2, 1, 5)] [InlineData(2, 2, 7)] [InlineData(1, 2, 7)] [InlineData(2, 2, 5)]
    public void SmallMapDepthwiseEqualsConv2dWithGradients(int size, int stride, int kernel)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        var conv = nn.Conv2d(12, 12, kernel, stride: stride, padding: kernel / 2, groups: 12, bias: false);
        var x = torch.randn(5, 12, size, size).requires_grad_(true);
        var gy = torch.randn(conv.call(x).shape);
        var y1 = conv.call(x);
        y1.backward(new[] { gy });
        var gx1 = x.grad!.clone(); var gw1 = conv.weight!.grad!.clone();
        x.grad!.zero_(); conv.weight.grad!.zero_();
        var y2 = Depthwise.Forward(conv, x);
        y2.backward(new[] { gy });
        Assert.Equal(y1.shape, y2.shape);
        Assert.True((y1 - y2).abs().max().item<float>() < 1e-5f);
        Assert.True((gx1 - x.grad!).abs().max().item<float>() < 1e-5f);
        Assert.True((gw1 - conv.weight.grad!).abs().max().item<float>() < 1e-4f);
    }

    [Fact]
    public void ChannelsLastGivesTheSameNetworkOutput()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        using var net = new ConvNet(Zoo.Get("mobilenet_v2", new InputShape(3, 32, 32), 10));
        net.eval();
        var x = torch.randn(4, 3, 32, 32);
        var a = net.call(x);
        var b = net.call(Tailor.Models.Layers.ChannelsLast(x));
        Assert.True((a - b).abs().max().item<float>() < 1e-4f);
        Assert.False(Tailor.Models.Layers.ChannelsLast(x).is_contiguous());
    }

    [Fact]
    public void ChannelsLastWorksWithShuffleSeAndSkipBlocks()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(2);
        var arch = new Architecture
        {
            Input = new InputShape(3, 16, 16), Classes = 10,
            Stem = { Block.ConvBnAct(16, 3, 2) },
            Blocks = { Block.MBConv(16, 3, 1, 1, groups: 2, shuffle: true, forceExpand: true), Block.Skip(24, 2), Block.Skip(24),
                       Block.MBConv(24, 5, 3, 2, Activation.HSwish, new SqueezeExcite(0.25, "expanded", Activation.Relu, Activation.HSigmoid)),
                       Block.MBConv(32, 7, 6, 2) }, // 2x2 -> 1x1: the depthwise fast path on channels-last input
            Head = new Head { Convs = { Block.ConvBnAct(32, 1) } },
        };
        using var net = new ConvNet(arch);
        net.eval();
        var x = torch.randn(3, 3, 16, 16);
        Assert.True((net.call(x) - net.call(Tailor.Models.Layers.ChannelsLast(x))).abs().max().item<float>() < 1e-4f);
        net.train();
        net.call(Tailor.Models.Layers.ChannelsLast(x)).sum().backward();
    }
}
