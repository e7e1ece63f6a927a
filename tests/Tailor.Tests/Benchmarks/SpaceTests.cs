using Tailor.Benchmarks;
using Tailor.Search;
using Tailor.Util;

namespace Tailor.Tests.Benchmarks;

public class Nb201SpaceTests
{
    const string Example = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";

    [Fact]
    public void ParsesAndPrintsTheBenchmarkString()
    {
        var a = Nb201Arch.Parse(Example);
        Assert.Equal([3, 3, 4, 1, 3, 1], a.Ops());
        Assert.Equal(Example, a.ToString());
        Assert.Equal("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", new Nb201Arch(0).ToString());
        Assert.Equal("|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|", new Nb201Arch(15624).ToString());
    }

    [Fact]
    public void EveryCodeRoundTrips()
    {
        var space = new Nb201Space();
        Assert.Equal(15625, space.All.Count);
        var seen = new HashSet<string>();
        foreach (var a in space.All)
        {
            string s = space.Key(a);
            Assert.True(seen.Add(s));
            Assert.Equal(a, Nb201Arch.Parse(s));
            Assert.Equal(a, Nb201Arch.FromOps(a.Ops()));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("|nor_conv_3x3~0|")]
    [InlineData("|conv_5x5~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")]
    [InlineData("|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")]
    [InlineData("|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")]
    [InlineData("nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")]
    [InlineData("| nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")]
    [InlineData("|nor_conv_3x3|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")]
    [InlineData("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|+|none~0|")]
    public void MalformedStringsAreOneLineErrors(string s)
    {
        var e = Assert.Throws<TailorException>(() => Nb201Arch.Parse(s));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("NAS-Bench-201 arch", e.Message);
    }

    [Fact]
    public void MutationChangesOneEdgeAndNeighborsAreAllOneEdits()
    {
        var space = new Nb201Space();
        var rng = new Rng(9);
        for (int i = 0; i < 500; i++)
        {
            var a = space.Sample(rng);
            Assert.Equal(1, Nb201Space.Distance(a, space.Mutate(a, rng)));
            var c = space.Crossover(a, space.Sample(rng), rng);
            Assert.Equal(6, c.Ops().Length);
        }
        var n = space.Neighbors(new Nb201Arch(1234));
        Assert.Equal(24, n.Count);
        Assert.Equal(24, n.Distinct().Count());
        Assert.All(n, x => Assert.Equal(1, Nb201Space.Distance(x, new Nb201Arch(1234))));
    }

    [Fact]
    public void OneHotEncoding()
    {
        var space = new Nb201Space();
        var f = new float[space.FeatureCount];
        space.Encode(Nb201Arch.Parse(Example), f);
        Assert.Equal(30, f.Length);
        Assert.Equal(6, f.Sum());
        Assert.Equal(1f, f[0 * 5 + 3]); Assert.Equal(1f, f[2 * 5 + 4]); Assert.Equal(1f, f[5 * 5 + 1]);
    }
}

public class FbnetSpaceTests
{
    [Fact]
    public void ParsesOpIndices()
    {
        var a = FbnetArch.Parse("7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 5");
        Assert.Equal(7, a.Op(0)); Assert.Equal(5, a.Op(21));
        Assert.Equal("7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 5", a.ToString());
        var space = new FbnetSpace();
        var f = new float[space.FeatureCount];
        space.Encode(a, f);
        Assert.Equal(198, f.Length);
        Assert.Equal(22, f.Sum());
        Assert.Equal(22 * 8, space.Neighbors(a).Count);
        var rng = new Rng(1);
        Assert.Equal(1, FbnetSpace.Distance(a, space.Mutate(a, rng)));
    }

    [Theory]
    [InlineData("7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4")]
    [InlineData("7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 9")]
    [InlineData("7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 x")]
    [InlineData("")]
    public void MalformedOpIndicesAreErrors(string s) =>
        Assert.Contains("FBNet arch", Assert.Throws<TailorException>(() => FbnetArch.Parse(s)).Message);

    [Fact]
    public void TableSubsetSpaceStaysInTheTable()
    {
        var rng = new Rng(2);
        var full = new FbnetSpace();
        var members = Enumerable.Range(0, 50).Select(_ => full.Sample(rng)).ToList();
        var sub = new TableSubsetSpace<FbnetArch>(full, members, FbnetSpace.Distance);
        var keys = members.Select(full.Key).ToHashSet();
        for (int i = 0; i < 200; i++)
        {
            var a = sub.Sample(rng);
            Assert.Contains(full.Key(a), keys);
            var m = sub.Mutate(a, rng);
            Assert.Contains(full.Key(m), keys);
            Assert.NotEqual(full.Key(a), full.Key(m));
            Assert.Contains(full.Key(sub.Crossover(a, sub.Sample(rng), rng)), keys);
        }
        Assert.Equal(10, sub.Neighbors(members[0]).Count);
        Assert.Throws<TailorException>(() => sub.Parse(full.Key(full.Sample(new Rng(77)))));
    }
}
