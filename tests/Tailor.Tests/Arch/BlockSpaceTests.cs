using Tailor.Arch;

namespace Tailor.Tests.Arch;

public class BlockSpaceTests
{
    [Fact]
    public void StrideCutsAndAssembly()
    {
        var refNet = Zoo.Get("mobilenet_v2_cifar");
        var cuts = BlockSpace.StrideCuts(refNet);
        Assert.Equal(new[] { (0, 3), (3, 6), (6, 13), (13, 17) }, cuts.ToArray());
        var space = new BlockSpace("mbv2", refNet, cuts, BlockGrid.Small);
        Assert.Equal(16, space.Options.Count);
        Assert.Equal(576, BlockGrid.Full.Enumerate().Count);
        var a = space.Build(new[] { 0, 5, 10, 15 });
        var an = ArchAnalysis.Analyze(a);
        Assert.Equal(10, a.Classes);
        Assert.Equal(refNet.Head, a.Head);
        // the last block keeps the reference's output width
        Assert.Equal(320, a.Blocks[^1].Out);
        Assert.True(an.Params > 0);
    }

    [Fact]
    public void CutsMustFollowStrideBoundaries()
    {
        var refNet = Zoo.Get("mobilenet_v2_cifar");
        var e = Assert.Throws<TailorException>(() => new BlockSpace("bad", refNet, new[] { (0, 8), (8, refNet.Blocks.Count) }, BlockGrid.Small));
        Assert.Contains("block 0: reference block 3 has stride 2 inside the block", e.Message);
    }

    [Fact]
    public void GridParsing()
    {
        var g = BlockGrid.Parse("kernels=3,7;expansions=2,4;depths=1;se=0;acts=relu,swish;widths=0.5,1");
        Assert.Equal(2 * 2 * 1 * 1 * 2 * 2, g.Enumerate().Count);
        Assert.Contains("k7_e4_d1_swish_w0.5", g.Enumerate().Select(c => c.Name));
        Assert.Throws<TailorException>(() => BlockGrid.Parse("kernels=4"));
        Assert.Throws<TailorException>(() => BlockGrid.Parse("colour=red"));
    }
}
