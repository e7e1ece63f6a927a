using Tailor.Benchmarks;
using Tailor.Search;
using Tailor.Util;
using Tailor.Tests.Search;

namespace Tailor.Tests.Benchmarks;

public class TableTests
{
    const string Header = "index,arch_str,cifar10_valid_acc_200ep,cifar10_test_acc_200ep,latency_ms_pixel3";
    const string Row0 = "0,|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|,81.98,85.86,3.6";
    const string Row1 = "1,|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|,90.77,93.66,17.2";

    static string Csv(params string[] lines)
    {
        string p = Path.Combine(SharedTables.TempDir(), "t.csv");
        File.WriteAllLines(p, lines);
        return p;
    }

    static TailorException Fails(BenchRequest r) => Assert.Throws<TailorException>(() => BenchFactory.Nb201(r));

    [Fact]
    public void SmallTableMakesASubsetSpace()
    {
        var s = BenchFactory.Nb201(new BenchRequest { File = Csv(Header, Row0, Row1) });
        Assert.Equal(2, s.Space.Size);
        Assert.Equal("nb201@table", s.Space.Name);
        var m = s.Evaluator.Evaluate(Nb201Arch.Parse(Row1.Split(',')[1]));
        Assert.Equal(90.77, m.Valid); Assert.Equal(93.66, m.Test); Assert.Equal(17.2, m.Latency);
        Assert.Equal(1, s.Evaluator.OfficialIndex(Nb201Arch.Parse(Row1.Split(',')[1])));
        Assert.Throws<TailorException>(() => s.Evaluator.Evaluate(new Nb201Arch(0)));
    }

    [Fact]
    public void MissingFileNamesThePath()
    {
        var e = Fails(new BenchRequest { File = "/nonexistent/nb.csv" });
        Assert.Contains("/nonexistent/nb.csv", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void MissingColumnIsNamed()
    {
        var e = Fails(new BenchRequest { File = Csv(Header, Row0), ValidColumn = "cifar10_valid_acc_12ep" });
        Assert.Contains("no column 'cifar10_valid_acc_12ep'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void NonNumericCellNamesFileLineAndColumn()
    {
        string p = Csv(Header, Row0, Row1.Replace("93.66", "n/a"));
        var e = Fails(new BenchRequest { File = p });
        Assert.Equal($"{p}:3: column 'cifar10_test_acc_200ep': 'n/a' is not a number", e.Message);
    }

    [Fact]
    public void MalformedArchStringInTheTableNamesTheLine()
    {
        string p = Csv(Header, Row0.Replace("avg_pool_3x3~0", "max_pool~0"));
        var e = Fails(new BenchRequest { File = p });
        Assert.StartsWith($"{p}:2: column 'arch_str': NAS-Bench-201 arch", e.Message);
        Assert.Contains("unknown op 'max_pool'", e.Message);
    }

    [Fact]
    public void DuplicateRowsAndRaggedLinesAreErrors()
    {
        Assert.Contains("duplicate architecture", Fails(new BenchRequest { File = Csv(Header, Row0, Row0.Replace("0,|", "7,|")) }).Message);
        Assert.Contains(":3: 4 fields", Fails(new BenchRequest { File = Csv(Header, Row0, "1,x,2,3") }).Message);
        Assert.Contains("no data rows", Fails(new BenchRequest { File = Csv(Header) }).Message);
    }

    [Fact]
    public void InfeasibleConstraintIsAnError()
    {
        var s = BenchFactory.Nb201(new BenchRequest { File = Csv(Header, Row0, Row1), LatencyMaxMs = 1.0 });
        var p = s.ProblemFor("rea");
        var e = Assert.Throws<TailorException>(() => Protocol.Run("rea", seed => StrategyFactory.Create<Nb201Arch>("rea", seed), s.Space, s.Evaluator, p,
            new ProtocolConfig { Seeds = 1, Budget = new Budget(2) }, s.Reference(p)));
        Assert.Contains("infeasible constraint", e.Message);
        Assert.Contains("latency <= 1", e.Message);
    }

    [SkippableFact]
    public void Nb201TableMatchesItsReadme()
    {
        var s = SharedTables.Nb201();
        Assert.Equal(15625, s.Evaluator.Archs.Count);
        Assert.Equal("nb201", s.Space.Name); // the table holds the whole space
        var table = CsvTable.Load(SharedData.Path201);
        var strings = table.Text("arch_str");
        for (int i = 0; i < strings.Length; i++) Assert.Equal(strings[i], s.Space.Key(s.Evaluator.Archs[i])); // printed exactly as written
        Assert.Equal(0.129306, table.Numeric("params_m")[0]);
        var first = s.Evaluator.ByOfficialIndex(1);
        Assert.Equal("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", first.ToString());
        var reference = s.Reference(s.ProblemFor("random"));
        Assert.Equal(94.37, reference.BestTest, 2);
        Assert.InRange(reference.MeanTest, 87.0, 87.1);
    }

    [SkippableFact]
    public void FbnetTableLoadsAndRefusesAccuracySearch()
    {
        SharedTables.FbnetOrSkip();
        var s = BenchFactory.Fbnet(new BenchRequest());
        Assert.Equal(5000, s.Space.Size);
        Assert.Equal("7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 5", s.Space.Key(s.Evaluator.Archs[0]));
        Assert.Equal(17.5577, s.Evaluator.RowMetrics[0].Latency);
        Assert.Equal(10.6153, s.Evaluator.RowMetrics[0].Get("latency2"));
        var e = Assert.Throws<TailorException>(() => s.ProblemFor("rea"));
        Assert.Contains("no accuracy column", e.Message);
        var p = s.ProblemFor("nsga2");
        Assert.Equal("min latency, min latency2", p.ToString());
        var res = Protocol.Run("nsga2", seed => StrategyFactory.Create<FbnetArch>("nsga2", seed), s.Space, s.Evaluator, p,
            new ProtocolConfig { Seeds = 2, Budget = new Budget(200) }, s.Reference(p));
        Assert.InRange(res.HvRatio!.Value, 0.7, 1.0);
    }
}
