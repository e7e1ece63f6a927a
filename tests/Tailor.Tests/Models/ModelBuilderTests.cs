using Tailor.Arch;
using Tailor.Models;
using static TorchSharp.torch;

namespace Tailor.Tests.Models;

public class ModelBuilderTests
{
    [Theory]
    [InlineData("mobilenet_v2")] [InlineData("mnasnet_a1")] [InlineData("mnasnet_b1")]
    [InlineData("spnasnet")] [InlineData("efficientnet_b0")] [InlineData("fbnet_c")]
    public void ParameterCountEqualsExactCount(string name)
    {
        using var net = new ConvNet(Zoo.Get(name));
        Assert.Equal(ArchAnalysis.Analyze(Zoo.Get(name)).Params, net.ParameterCount());
    }

    [Fact]
    public void ForwardShapeAndStableKeys()
    {
        using var scope = NewDisposeScope();
        var arch = Zoo.Get("mnasnet_a1", new InputShape(3, 32, 32), 10);
        using var net = new ConvNet(arch);
        net.eval();
        var y = net.call(randn(2, 3, 32, 32));
        Assert.Equal(new long[] { 2, 10 }, y.shape);
        var keys = net.state_dict().Keys.ToList();
        Assert.Contains("stem.0.conv.weight", keys);
        Assert.Contains("stem.0.bn.running_mean", keys);
        Assert.Contains("blocks.0.conv_dw.weight", keys);
        Assert.Contains("blocks.3.se.conv_reduce.bias", keys);
        Assert.Contains("blocks.1.conv_pw.weight", keys);
        Assert.Contains("blocks.1.bn3.weight", keys);
        Assert.Contains("head.0.conv.weight", keys);
        Assert.Contains("classifier.weight", keys);
        Assert.DoesNotContain("blocks.0.conv_pw.weight", keys); // expansion 1: no expand conv
    }

    [Fact]
    public void GroupedShuffleAndSkipBlocksRun()
    {
        using var scope = NewDisposeScope();
        var arch = new Architecture
        {
            Input = new InputShape(1, 28, 28), Classes = 10,
            Stem = { Block.ConvBnAct(16, 3, 2) },
            Blocks = { Block.MBConv(16, 3, 1, 1, groups: 2, shuffle: true, forceExpand: true), Block.Skip(24, 2), Block.Skip(24),
                       Block.MBConv(24, 7, 3, 1, Activation.HSwish, new SqueezeExcite(0.25, "expanded", Activation.Relu, Activation.HSigmoid)) },
            Head = new Head { Convs = { Block.ConvBnAct(32, 1) } },
        };
        using var net = new ConvNet(arch);
        Assert.Equal(ArchAnalysis.Analyze(arch).Params, net.ParameterCount());
        var y = net.call(randn(3, 1, 28, 28));
        Assert.Equal(new long[] { 3, 10 }, y.shape);
        y.sum().backward();
    }

    [Fact]
    public void ChannelShuffleInterleavesGroups()
    {
        using var scope = NewDisposeScope();
        var x = arange(6, dtype: float32).view(1, 6, 1, 1);
        var s = MBConvModule.ChannelShuffle(x, 2).flatten().data<float>().ToArray();
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, s);
    }

    [Fact]
    public void WeightsSaveLoadRoundTripAndMismatchIsClear()
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("tailor-w").FullName;
        var arch = Zoo.Get("mobilenet_v2", new InputShape(3, 32, 32), 10);
        using var a = new ConvNet(arch);
        string path = Path.Combine(dir, "w.bin");
        Weights.Save(a, path);
        using var b = new ConvNet(arch);
        Weights.Load(b, path);
        a.eval(); b.eval();
        var x = randn(1, 3, 32, 32);
        Assert.Equal(0.0, (a.call(x) - b.call(x)).abs().max().item<float>(), 6);
        using var other = new ConvNet(Zoo.Get("mnasnet_b1", new InputShape(3, 32, 32), 10));
        var e = Assert.Throws<TailorException>(() => Weights.Load(other, path));
        Assert.StartsWith($"{path}: not a weights file for this architecture", e.Message);
        File.WriteAllBytes(path, new byte[] { 1, 2, 3 });
        Assert.Throws<TailorException>(() => Weights.Load(b, path));
        Assert.Throws<TailorException>(() => Weights.Load(b, Path.Combine(dir, "missing.bin")));
        Directory.Delete(dir, true);
    }
}
