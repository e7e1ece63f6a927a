using Tailor.Arch;

namespace Tailor.Tests.Arch;

public class SpaceTests
{
    [Fact]
    public void SpnasImagenetMatchesPaperSpace()
    {
        var s = Spaces.Get("spnas-imagenet");
        Assert.Equal(20, s.LayerCount);
        // 4^5 * 5^15 networks (first layer of a stage cannot be skip)
        Assert.Equal(Math.Pow(4, 5) * Math.Pow(5, 15), s.Size, 1e6);
        // the published Pixel-1 network is a member of the space and counts like zoo:spnasnet
        string pub = "k3_e3 k3_e3 k3_e3 skip k5_e6 k3_e3 k3_e3 k3_e3 k5_e6 k3_e3 k3_e3 k3_e3 k5_e6 k5_e3 k5_e3 k5_e3 k5_e6 k5_e6 k5_e6 k5_e6";
        var a = s.Build(s.Parse(pub));
        Assert.Equal(ArchAnalysis.Analyze(Zoo.Get("spnasnet")).Params, ArchAnalysis.Analyze(a).Params);
        Assert.Equal(ArchAnalysis.Analyze(Zoo.Get("spnasnet")).Macs, ArchAnalysis.Analyze(a).Macs);
    }

    [Fact]
    public void SmallSpacesHaveSmallInputsAndOptions()
    {
        var c = Spaces.Get("spnas-cifar");
        Assert.Equal(new InputShape(3, 32, 32), c.Input);
        Assert.Equal(10, c.LayerCount);
        var f = Spaces.Get("spnas-fmnist", new SpnasOptions { Width = 0.5, LayersPerStage = 3, Kernels = new[] { 3, 5, 7 }, SearchSe = true });
        Assert.Equal(new InputShape(1, 28, 28), f.Input);
        Assert.Equal(15, f.LayerCount);
        Assert.Equal(12, f.Choices(0).Count);      // 3 kernels x 2 expansions x SE on/off
        Assert.Equal(13, f.Choices(1).Count);      // + skip
        Assert.Contains(f.Choices(1), x => x.Name == "k7_e6_se" && x.Block.Se != null);
        Assert.Equal(16, f.Build(f.Sample(new Random(1))).Blocks[1].Out); // width 0.5 of 24 -> 16 (multiple of 8, >= 90%)
    }

    [Fact]
    public void FBNetSpaceHas22LayersOf9Ops()
    {
        var s = Spaces.Get("fbnet");
        Assert.Equal(22, s.LayerCount);
        Assert.All(Enumerable.Range(0, 22), l => Assert.Equal(Spaces.FBNetOps, s.Choices(l).Select(c => c.Name)));
        var a = s.Build(s.Parse("0 1 2 3 4 5 6 7 8 0 1 2 3 4 5 6 7 8 0 1 2 3"));
        Assert.Equal(100, a.Classes);
        var an = ArchAnalysis.Analyze(a);
        Assert.Equal(352, an.Layers[^3].OutChannels);
        Assert.Equal(4, an.Layers[^2].OutH); // 32 -> /2 -> /2 -> /2
        var e = Assert.Throws<TailorException>(() => s.Parse("0 1 2"));
        Assert.Contains("expected 22 layer choices", e.Message);
        Assert.Contains("unknown choice 'k9_e1'", Assert.Throws<TailorException>(() => s.Parse(string.Join(' ', Enumerable.Repeat("k9_e1", 22)))).Message);
    }
}
