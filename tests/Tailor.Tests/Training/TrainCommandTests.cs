using System.Text.Json;
using System.Text.Json.Nodes;
using Tailor.Arch;
using Tailor.Cli;
using Tailor.Data;
using Tailor.Tests.Data;
using Tailor.Training;

namespace Tailor.Tests.Training;

/// <summary>
/// Tests that need the process to themselves run alone, after the parallel ones: those that redirect
/// Console, and those that compare runs bit for bit (dropout draws from libtorch's one global
/// generator, which tests running in parallel would advance).
/// </summary>
[CollectionDefinition("serial", DisableParallelization = true)]
public class SerialCollection { }

[Collection("serial")]
public class TrainCommandTests
{
    static (int Code, string Out, string Err) Run(params string[] args) => CliInProcess.Run(args);

    sealed class Fixture
    {
        public string Root = TestData.TempDir("train-cli");
        public string Data, Arch;
        public Fixture()
        {
            Data = TestData.WriteIdxDir(Path.Combine(Root, "data"), train: 160, test: 40);
            Arch = Path.Combine(Root, "tiny.json");
            File.WriteAllText(Arch, ArchJson.Write(Kit.TinyArch(3, 32))); // input and classes get re-targeted to the data
        }
        public string[] Args(string outDir, params string[] more) =>
            new[] { "train", "--arch", Arch, "--data", $"idx:{Data}", "--epochs", "2", "--batch", "32", "--val-split", "0.2",
                    "--augment", "crop-flip", "--seed", "3", "--threads", "2", "--out", outDir }.Concat(more).ToArray();
    }

    static void AssertOneErrorLine(int code, string err, string contains) => CliInProcess.AssertOneErrorLine(code, err, contains);

    static Dictionary<string, byte[]> Snapshot(string dir) =>
        Directory.GetFiles(dir).ToDictionary(Path.GetFileName, File.ReadAllBytes)!;

    static string[] MetricKeys(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Select(l => string.Join(",", l.Split(',').Take(6))).ToArray();

    [Fact]
    public void TrainsEndToEndResumesBitIdenticallyAndRejectsBadInput()
    {
        var f = new Fixture();

        // 1. an uninterrupted run through the CLI
        string a = Path.Combine(f.Root, "a");
        var (code, stdout, stderr) = Run(f.Args(a, "--json"));
        Assert.True(code == 0, stderr);
        var summary = JsonNode.Parse(stdout)!;
        Assert.Equal(2, (int)summary["epochs"]!);
        Assert.Equal("1x12x12", (string)summary["input"]!);
        Assert.Equal(128, (int)summary["train_images"]!);
        Assert.Equal(40, (int)summary["test_images"]!);
        Assert.NotNull(summary["test_acc"]);
        foreach (var file in new[] { "checkpoint.pt", "weights.bin", "arch.json", "run.json", "metrics.csv" })
            Assert.True(File.Exists(Path.Combine(a, file)), file);
        Assert.Empty(Directory.GetFiles(a, ".*"));
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(a, "run.json")))!;
        Assert.Equal("done", (string)run["status"]!);
        Assert.Equal(3, (long)run["seed"]!);
        Assert.Equal(2, (int)run["machine"]!["threads"]!);
        Assert.False(string.IsNullOrEmpty((string?)run["machine"]!["cpu"]));
        Assert.StartsWith("2.", (string)run["versions"]!["libtorch"]!);
        Assert.Equal("sgd", (string)run["config"]!["train"]!["optimizer"]!);
        Assert.Equal(3, MetricKeys(a).Length);
        Assert.Equal(MetricsCsv.Header, File.ReadLines(Path.Combine(a, "metrics.csv")).First());
        var events = EventFileWriter.Read(Directory.GetFiles(a, "events.out.tfevents.*").Single());
        Assert.Equal(2, events.Count(e => e.Scalars.Any(s => s.Tag == "val/acc")));
        Assert.Single(events, e => e.Scalars.Any(s => s.Tag == "test/acc"));

        // 2. the same run interrupted after epoch 1, then resumed through the CLI: bit-identical
        string b = Path.Combine(f.Root, "b");
        var cfg = Checkpoint.ReadHeader(Path.Combine(a, "checkpoint.pt")).Meta!["config"].Deserialize<RunConfig>(RunConfig.JsonOptions)!;
        Assert.Equal(2, cfg.Train.Epochs); // the exact configuration of run a
        using (var first = TrainingRun.Prepare(cfg, b))
        {
            using var cts = new CancellationTokenSource();
            first.EpochEnd = _ => cts.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => first.Run(cts.Token));
        }
        Assert.Equal(1, Checkpoint.ReadHeader(Path.Combine(b, "checkpoint.pt")).Epoch);
        Assert.False(File.Exists(Path.Combine(b, "weights.bin")));
        (code, _, stderr) = Run("train", "--resume", b, "--json");
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "weights.bin")), File.ReadAllBytes(Path.Combine(b, "weights.bin")));
        Assert.Equal(MetricKeys(a), MetricKeys(b));
        var runB = JsonNode.Parse(File.ReadAllText(Path.Combine(b, "run.json")))!;
        Assert.Equal(1, (int)runB["resumes"]![0]!["at_epoch"]!);
        var eventsB = EventFileWriter.Read(Directory.GetFiles(b, "events.out.tfevents.*").Single());
        Assert.Equal(new long[] { 4, 8 }, eventsB.Where(e => e.Scalars.Any(s => s.Tag == "val/acc")).Select(e => e.Step));

        // 3. bad input: exit 2, one line, nothing written
        // a finished run cannot be resumed without more epochs
        (code, _, stderr) = Run("train", "--resume", a);
        AssertOneErrorLine(code, stderr, "the run is complete (2 of 2 epochs)");

        // --out that already holds a run
        var before = Snapshot(a);
        (code, _, stderr) = Run(f.Args(a));
        AssertOneErrorLine(code, stderr, "already holds a training run");
        Assert.Equal(before, Snapshot(a));

        // corrupt checkpoint
        string c = Path.Combine(f.Root, "c");
        Directory.CreateDirectory(c);
        foreach (var file in Directory.GetFiles(b)) File.Copy(file, Path.Combine(c, Path.GetFileName(file)));
        var ck = File.ReadAllBytes(Path.Combine(c, "checkpoint.pt"));
        ck[ck.Length / 3] ^= 0xFF;
        File.WriteAllBytes(Path.Combine(c, "checkpoint.pt"), ck);
        before = Snapshot(c);
        (code, _, stderr) = Run("train", "--resume", c, "--epochs", "3");
        AssertOneErrorLine(code, stderr, "corrupt checkpoint (checksum mismatch)");
        Assert.Equal(before, Snapshot(c));

        // missing checkpoint
        string empty = Path.Combine(f.Root, "empty");
        Directory.CreateDirectory(empty);
        (code, _, stderr) = Run("train", "--resume", empty);
        AssertOneErrorLine(code, stderr, "checkpoint.pt: checkpoint not found");
        Assert.Empty(Directory.EnumerateFileSystemEntries(empty));

        // options that cannot change on resume
        (code, _, stderr) = Run("train", "--resume", b, "--epochs", "3", "--lr", "0.5");
        AssertOneErrorLine(code, stderr, "--lr cannot be changed");

        // unwritable --out: a path under a regular file
        string plain = Path.Combine(f.Root, "plain.txt");
        File.WriteAllText(plain, "x");
        (code, _, stderr) = Run(f.Args(Path.Combine(plain, "run")));
        AssertOneErrorLine(code, stderr, "cannot create the directory");
        Assert.Equal("x", File.ReadAllText(plain));

        // no CUDA backend here
        string d = Path.Combine(f.Root, "d");
        (code, _, stderr) = Run(f.Args(d, "--device", "cuda"));
        AssertOneErrorLine(code, stderr, "no CUDA backend is present");
        Assert.False(Directory.Exists(d));

        // truncated data file (gz) and a foreign file in its place (raw)
        string gz = Path.Combine(f.Data, "train-images-idx3-ubyte.gz");
        var good = File.ReadAllBytes(gz);
        File.WriteAllBytes(gz, good[..(good.Length / 2)]);
        (code, _, stderr) = Run(f.Args(d));
        AssertOneErrorLine(code, stderr, gz);
        Assert.False(Directory.Exists(d));
        File.Delete(gz);
        File.WriteAllText(Path.Combine(f.Data, "train-images-idx3-ubyte"), "<html>not found</html>");
        (code, _, stderr) = Run(f.Args(d));
        AssertOneErrorLine(code, stderr, "not an IDX file");
        Assert.False(Directory.Exists(d));

        // CIFAR-10 file of the wrong size
        string cifar = Path.Combine(f.Root, "cifar");
        Directory.CreateDirectory(cifar);
        File.WriteAllBytes(Path.Combine(cifar, "data_batch_1.bin"), new byte[3073 * 4 - 1]);
        (code, _, stderr) = Run(f.Args(d).Select(x => x == $"idx:{f.Data}" ? $"cifar10:{cifar}" : x).ToArray());
        AssertOneErrorLine(code, stderr, "not a whole number of 3,073-byte CIFAR-10 records");
        Assert.False(Directory.Exists(d));
    }

    [Fact]
    public void ArchitectureThatCannotTakeTheInputIsOneLine()
    {
        var f = new Fixture();
        var big = new Architecture
        {
            Name = "big-kernel", Input = new InputShape(1, 64, 64), Classes = 10,
            Stem = { Block.ConvBnAct(8, 7, 1) with { Padding = 0 }, Block.ConvBnAct(8, 7, 1) with { Padding = 0 } },
            Blocks = { Block.MBConv(8, 3, 1, 1) },
        };
        File.WriteAllText(f.Arch, ArchJson.Write(big));
        string o = Path.Combine(f.Root, "o");
        var (code, _, err) = Run(f.Args(o));
        AssertOneErrorLine(code, err, "cannot take idx's 1x12x12 input");
        Assert.False(Directory.Exists(o));
    }
}
