using Tailor.Models.Cells;

namespace Tailor.Tests.Cells;

public class GenotypeTests
{
    [Fact]
    public void Nb201StringsRoundTripExactly()
    {
        const string s = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
        var c = Nb201Cell.Parse(s);
        Assert.Equal(s, c.ToString());
        Assert.Equal(new[] { 3, 3, 4, 1, 3, 1 }, c.Ops);
        Assert.Equal(c, new Nb201Cell(c.Ops));
    }

    [SkippableFact]
    public void EveryTableCellParsesAndPrintsAsTheBenchmarkWritesIt()
    {
        var t = CellTestKit.TableOrSkip();
        foreach (var r in t.Rows) Assert.Equal(r.Arch, Nb201Cell.Parse(r.Arch).ToString());
        Assert.Equal(15625, t.Rows.Count());
    }

    [Theory]
    [InlineData("|nor_conv_5x5~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", "unknown op 'nor_conv_5x5'")]
    [InlineData("|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", "node 2 has 1 inputs, needs 2")]
    [InlineData("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", "node groups, need 3")]
    [InlineData("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|none~3|", "node 3 has 4 inputs, needs 3")]
    [InlineData("|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", "must be ~0")]
    [InlineData("", "empty")]
    public void BadNb201StringsAreOneLineErrors(string s, string expect)
    {
        var e = Assert.Throws<TailorException>(() => Nb201Cell.Parse(s));
        Assert.Contains(expect, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    const string V2 = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))";

    [Fact]
    public void DartsGenotypeFormatRoundTrips()
    {
        var g = DartsGenotype.Parse(V2);
        Assert.Equal(V2, g.ToString());
        Assert.Equal(g, DartsGenotype.Parse(g.ToString()));
        // DARTS's genotypes.py form (concat as a list, other spacing and quotes) parses to the same genotype and prints canonically
        Assert.Equal(V2, DartsGenotype.DartsV2.ToString());
        var loose = V2.Replace("range(2, 6)", "[2, 3, 4, 5]").Replace("'", "\"").Replace(", ", " ,  ");
        Assert.Equal(V2, DartsGenotype.Parse(loose).ToString());
        Assert.Equal((4, 0), g.Normal.Nodes[0]);
        Assert.Equal(DartsCell.Parse(g.Normal.ToString()), g.Normal);
    }

    [Theory]
    [InlineData("('conv_7x7', 0)", "unknown op 'conv_7x7'")]
    [InlineData("('none', 0)", "'none' cannot appear")]
    [InlineData("('sep_conv_3x3', 4)", "reads node 4")]
    public void BadDartsCellsAreOneLineErrors(string replaceFirstPair, string expect)
    {
        string s = V2.Replace("('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0)", replaceFirstPair + ", ('sep_conv_3x3', 1), ('sep_conv_3x3', 0)");
        var e = Assert.Throws<TailorException>(() => DartsGenotype.Parse(s));
        Assert.Contains(expect, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void WrongNumberOfDartsEdgesConcatAndSyntaxAreErrors()
    {
        var seven = V2.Replace("normal=[('sep_conv_3x3', 0), ", "normal=[");
        Assert.Contains("pairs, needs 8", Assert.Throws<TailorException>(() => DartsGenotype.Parse(seven)).Message);
        Assert.Contains("only range(2, 6)", Assert.Throws<TailorException>(() => DartsGenotype.Parse(V2.Replace("normal_concat=range(2, 6)", "normal_concat=[2, 3]"))).Message);
        Assert.Contains("expected ')'", Assert.Throws<TailorException>(() => DartsGenotype.Parse(V2[..^1])).Message);
        Assert.Contains("trailing", Assert.Throws<TailorException>(() => DartsGenotype.Parse(V2 + " x")).Message);
    }

    [Fact]
    public void Nb201StructuralChecks()
    {
        Assert.False(Nb201Cell.Parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|").Connected());
        var allSkip = Nb201Cell.Parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|");
        Assert.True(allSkip.Connected());
        Assert.False(allSkip.HasParametricPath());
        // a conv on a dead end (node 1 never reaches the output) does not count
        var dead = Nb201Cell.Parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|");
        Assert.True(dead.Connected());
        Assert.False(dead.HasParametricPath());
    }
}
