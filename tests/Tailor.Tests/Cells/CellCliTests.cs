using System.Text.Json.Nodes;
using Tailor.Benchmarks;
using Tailor.Cli;
using Tailor.Models.Cells;
using Tailor.Search.Differentiable;
using Tailor.Tests.Data;

namespace Tailor.Tests.Cells;

/// <summary>The CLI: outputs, help, and bad input (one-line error on stderr, exit code 2, nothing lost).</summary>
public class CellCliTests
{
    static (int Code, string Err) Run(params string[] args)
    {
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try { return (Program.BuildRoot().Parse(args).Invoke(), err.ToString()); }
        finally { Console.SetError(old); }
    }

    /// <summary>The error line the CLI printed (other tests may write to stderr at the same time).</summary>
    static string ErrorLine(string err) => Assert.Single(err.Split('\n').Where(l => l.StartsWith("error: ", StringComparison.Ordinal)));

    static readonly string[] Tiny = { "--channels", "4", "--batch", "16", "--train-images", "48", "--val-images", "48", "--steps-per-epoch", "2", "--threads", "1", "--json" };

    /// <summary><see cref="Tiny"/> with <paramref name="option"/> set to <paramref name="value"/> (replaced when Tiny has it).</summary>
    static string[] TinyWith(string option, string value)
    {
        int i = Array.IndexOf(Tiny, option);
        var args = Tiny.ToList();
        if (i >= 0) args.RemoveRange(i, 2);
        return args.Concat(new[] { option, value }).ToArray();
    }

    static string CifarOrSkip()
    {
        Skip.If(!Directory.Exists(TestData.CifarSubset), $"shared data missing: {TestData.CifarSubset}");
        CellTestKit.TableOrSkip();
        return "cifar10:" + TestData.CifarSubset;
    }

    [SkippableFact]
    public void GdasWritesTheSummaryCsvsPlotsAndResumes()
    {
        string data = CifarOrSkip();
        string dir = CellTestKit.TempDir();
        var (code, err) = Run(new[] { "search", "gdas", "--data", data, "--epochs", "2", "--warmup-epochs", "1", "--seed", "1", "--out", dir }.Concat(Tiny).ToArray());
        Assert.True(code == 0, err);
        var s = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!.AsObject();
        foreach (var k in new[] { "genotype", "table_valid", "table_test", "table_latency_ms", "search_seconds", "random_test_mean", "network" })
            Assert.True(s.ContainsKey(k), k);
        Assert.Equal("gdas", (string?)s["method"]);
        Nb201Cell.Parse((string)s["genotype"]!);
        var png = File.ReadAllBytes(Path.Combine(dir, "alpha.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(dir, "epochs.csv")).Length);
        // one warm-up epoch and one search epoch: the final cell is that epoch's cell
        var stab = s["cell_stability"]!;
        Assert.Equal(1, (int)stab["search_epochs"]!);
        Assert.Equal(1, (int)stab["epochs_with_final_cell"]!);
        Assert.Equal(1, (int)stab["final_cell_streak"]!);
        // asking again without --resume is refused; with --resume a finished run just reports
        var (c2, e2) = Run(new[] { "search", "gdas", "--data", data, "--epochs", "2", "--warmup-epochs", "1", "--seed", "1", "--out", dir }.Concat(Tiny).ToArray());
        Assert.Equal(2, c2);
        Assert.Contains("--resume", e2);
        var (c3, _) = Run(new[] { "search", "gdas", "--data", data, "--epochs", "2", "--warmup-epochs", "1", "--seed", "1", "--out", dir, "--resume" }.Concat(Tiny).ToArray());
        Assert.Equal(0, c3);
    }

    [Fact]
    public void CellStabilityCountsTheSearchEpochsThatDerivedTheFinalCell()
    {
        EpochRecord E(string phase, string? g) => new() { Phase = phase, Genotype = g };
        var epochs = new[] { E("warmup", "w"), E("search", "a"), E("search", "b"), E("search", "a"), E("search", "b"), E("search", "b"), E("tune", "b") };
        var st = CellStability.Of(epochs, "b")!;
        Assert.Equal(new CellStability(5, 2, 3, 2), st);
        Assert.Equal(0, CellStability.Of(epochs, "c")!.FinalCellStreak);
        Assert.Null(CellStability.Of(new[] { E("warmup", "w") }, "w"));
    }

    [Fact]
    public void HelpExplainsTheMethods()
    {
        var (code, _) = Run("search", "msg-das", "--help");
        Assert.Equal(0, code);
        var root = Program.BuildRoot();
        var search = root.Subcommands.Single(c => c.Name == "search");
        foreach (var m in new[] { "darts", "gdas", "msg-das", "darts-pt", "hdas", "step-bench" }) Assert.Contains(search.Subcommands, c => c.Name == m);
        var msg = search.Subcommands.Single(c => c.Name == "msg-das");
        foreach (var o in new[] { "--k", "--dropblock", "--distill", "--space", "--latency-lambda", "--latency-column", "--epochs", "--seed", "--out", "--resume" })
            Assert.Contains(msg.Options, x => x.Name == o);
        Assert.Contains("Gumbel-TopK", msg.Description);
        var gdas = search.Subcommands.Single(c => c.Name == "gdas");
        Assert.Contains(gdas.Options, x => x.Name == "--gumbel-grad");
        Assert.Contains(msg.Options, x => x.Name == "--gumbel-grad");
        string dir = Path.Combine(CellTestKit.TempDir(), "bad-grad");
        var (bad, err) = Run(new[] { "search", "gdas", "--gumbel-grad", "reinforce", "--out", dir }.Concat(Tiny).ToArray());
        Assert.Equal(2, bad);
        Assert.Contains("--gumbel-grad 'reinforce': expected gdas or sampled", ErrorLine(err));
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void BadGenotypesAreOneLineErrors()
    {
        var (c1, e1) = Run("cellnet", "count", "|nor_conv_7x7~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|");
        Assert.Equal(2, c1);
        Assert.Contains("unknown op 'nor_conv_7x7'", ErrorLine(e1));
        var (c2, e2) = Run("cellnet", "count", "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|");
        Assert.Equal(2, c2);
        Assert.Contains("inputs, needs 3", e2);
        var (c3, e3) = Run("cellnet", "count", "Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=range(2, 6), reduce=[], reduce_concat=range(2, 6))");
        Assert.Equal(2, c3);
        Assert.Contains("needs 8", e3);
        var (c4, _) = Run("cellnet", "count", DartsGenotype.DartsV2.ToString(), "--json");
        Assert.Equal(0, c4);
    }

    [Theory]
    [InlineData("--lr", "NaN", "--lr: expected > 0 (got NaN)")]
    [InlineData("--arch-lr", "0", "--arch-lr: expected > 0 (got 0)")]
    [InlineData("--tau-min", "-1", "--tau-min: expected > 0 (got -1)")]
    [InlineData("--arch-weight-decay", "NaN", "--arch-weight-decay: expected >= 0 (got NaN)")]
    [InlineData("--latency-lambda", "-0.5", "--latency-lambda: expected >= 0 (got -0.5)")]
    [InlineData("--epochs", "0", "--epochs: expected >= 1 (got 0)")]
    [InlineData("--threads", "0", "--threads: expected >= 1 (got 0)")]
    public void BadNumbersAreRefusedBeforeAnythingIsWritten(string option, string value, string message)
    {
        string dir = Path.Combine(CellTestKit.TempDir(), "out");
        var (code, err) = Run(new[] { "search", "gdas", "--out", dir }.Concat(TinyWith(option, value)).ToArray());
        Assert.Equal(2, code);
        Assert.Contains(message, ErrorLine(err));
        Assert.False(Directory.Exists(dir));
    }

    [Theory]
    [InlineData("gdas")]
    [InlineData("msg-das")]
    public void ARisingTemperatureScheduleIsRefused(string method)
    {
        string dir = Path.Combine(CellTestKit.TempDir(), "out");
        var (code, err) = Run(new[] { "search", method, "--out", dir, "--tau-max", "0.1" }.Concat(TinyWith("--tau-min", "10")).ToArray());
        Assert.Equal(2, code);
        Assert.Contains("--tau-min 10 is above --tau-max 0.1", ErrorLine(err));
        Assert.False(Directory.Exists(dir));
    }

    [Theory]
    [InlineData("--dropblock", "NaN", "--dropblock: expected a probability in [0, 1) (got NaN)")]
    [InlineData("--distill", "-1", "--distill: expected >= 0 (got -1)")]
    public void BadMsgDasNumbersAreRefused(string option, string value, string message)
    {
        string dir = Path.Combine(CellTestKit.TempDir(), "out");
        var (code, err) = Run(new[] { "search", "msg-das", "--out", dir }.Concat(TinyWith(option, value)).ToArray());
        Assert.Equal(2, code);
        Assert.Contains(message, ErrorLine(err));
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void SpaceDataMismatchExitsWithoutWritingAnything()
    {
        string idx = TestData.WriteIdxDir(Path.Combine(CellTestKit.TempDir(), "idx"), train: 128, test: 16, size: 28);
        string dir = Path.Combine(CellTestKit.TempDir(), "out");
        var (code, err) = Run(new[] { "search", "darts", "--data", "idx:" + idx, "--out", dir }.Concat(Tiny).ToArray());
        Assert.Equal(2, code);
        Assert.Contains("needs 3x32x32", ErrorLine(err));
        Assert.Contains("1x28x28", err);
        Assert.False(Directory.Exists(dir));
    }

    [SkippableFact]
    public void ATableMissingCellsIsRefusedBeforeAnyTraining()
    {
        string data = CifarOrSkip();
        string csv = Path.Combine(CellTestKit.TempDir(), "part.csv");
        File.WriteAllLines(csv, File.ReadLines(SharedData.Path201).Take(101));
        string dir = Path.Combine(CellTestKit.TempDir(), "out");
        var (code, err) = Run(new[] { "search", "darts", "--data", data, "--table", csv, "--out", dir }.Concat(Tiny).ToArray());
        Assert.Equal(2, code);
        Assert.Contains("holds 100 of the 15625", err);
        Assert.False(File.Exists(Path.Combine(dir, "checkpoint", "state.json")));
        // and a lookup of a missing cell names the file and the cell
        var t = new Nb201Table(csv);
        var missing = Nb201Cell.Parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|");
        Assert.False(t.Contains(missing));
        Assert.Contains("not in the table", Assert.Throws<TailorException>(() => t.Lookup(missing)).Message);
    }

    [SkippableFact]
    public void NanInACheckpointsAlphaIsAOneLineErrorAndTheRunIsKept()
    {
        string data = CifarOrSkip();
        string dir = CellTestKit.TempDir();
        var args = new[] { "search", "darts", "--data", data, "--epochs", "1", "--seed", "2", "--out", dir }.Concat(Tiny).ToArray();
        Assert.Equal(0, Run(args).Code);
        // corrupt alpha in the checkpoint, then ask for more epochs
        string tpath = Path.Combine(dir, "checkpoint", "tensors.bin");
        var t = TensorStore.Load(tpath);
        using (TorchSharp.torch.no_grad()) t["alpha.alpha"][0, 0] = TorchSharp.torch.tensor(float.NaN);
        TensorStore.Save(tpath, t.Select(kv => (kv.Key, kv.Value)));
        var before = File.ReadAllBytes(tpath);
        var (code, err) = Run(new[] { "search", "darts", "--data", data, "--epochs", "2", "--seed", "2", "--out", dir, "--resume" }.Concat(Tiny).ToArray());
        Assert.Equal(2, code);
        Assert.Contains("NaN", ErrorLine(err));
        Assert.Equal(before, File.ReadAllBytes(tpath)); // nothing overwritten
        Assert.True(File.Exists(Path.Combine(dir, "summary.json")));
    }
}
