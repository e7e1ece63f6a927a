using System.Diagnostics;
using Tailor.Arch;
using Tailor.Hardware.Latency;
using Tailor.Hardware.Onnx;
using Tailor.Models;
using Xunit.Abstractions;

namespace Tailor.Tests.Hardware;

public sealed class OnnxCheckerFixture : IDisposable
{
    public OnnxChecker Checker { get; } = new();
    public void Dispose() => Checker.Dispose();
}

/// <summary>
/// Acceptance of the export: ONNX Runtime's output equals TorchSharp's eval-mode output (max abs diff &lt;= 1e-4,
/// random BN statistics so the folding is exercised) for every zoo network and 50 random networks of each
/// space, and every such file passes onnx.checker.check_model(full_check=True) when python3-onnx is installed.
/// </summary>
public class OnnxExportTests(ITestOutputHelper log, OnnxCheckerFixture fx) : IClassFixture<OnnxCheckerFixture>
{
    const double Tol = 1e-4;

    static OnnxExportTests() => TorchSharp.torch.set_num_threads(1); // libtorch's spinning threads crawl on a shared 2-core machine

    void Check(byte[] model, string what)
    {
        if (!fx.Checker.Available) return; // the dedicated checker test reports the skip
        var err = fx.Checker.Check(model);
        Assert.True(err == null, $"{what}: onnx.checker: {err}");
    }

    [Theory]
    [InlineData("mobilenet_v2")] [InlineData("mnasnet_a1")] [InlineData("mnasnet_b1")]
    [InlineData("spnasnet")] [InlineData("efficientnet_b0")] [InlineData("fbnet_c")]
    public void ZooNetworkMatchesTorchSharp(string name)
    {
        var arch = Zoo.Get(name, new InputShape(3, 32, 32), 10);
        var (d, bytes) = OnnxTestUtil.Compare(arch, 1);
        log.WriteLine($"{name}: max abs diff {d:E2}");
        Assert.True(d <= Tol, $"{name}: max abs diff {d} > {Tol}");
        Check(bytes, name);
    }

    [Fact]
    public void FullSizeNetworkMatchesAt224()
    {
        var sw = Stopwatch.StartNew();
        var (d, bytes) = OnnxTestUtil.Compare(Zoo.Get("mobilenet_v2"), 3, batch: 1);
        log.WriteLine($"mobilenet_v2 @ 224: max abs diff {d:E2} ({sw.Elapsed.TotalSeconds:F1} s)");
        Assert.True(d <= Tol, $"max abs diff {d} > {Tol}");
        Check(bytes, "mobilenet_v2@224");
    }

    [Theory]
    [InlineData("spnas-cifar", null)] [InlineData("spnas-fmnist", null)] [InlineData("fbnet", null)] [InlineData("spnas-imagenet", "3x64x64")]
    public void RandomSpaceMembersMatchTorchSharp(string space, string? input)
    {
        var sw = Stopwatch.StartNew();
        var s = Spaces.Get(space);
        var rng = new Random(7);
        double worst = 0;
        for (int i = 0; i < 50; i++)
        {
            var arch = s.Build(s.Sample(rng));
            if (input != null) arch = arch.WithInput(InputShape.Parse(input));
            var (d, bytes) = OnnxTestUtil.Compare(arch, 100 + i, batch: 1);
            worst = Math.Max(worst, d);
            Assert.True(d <= Tol, $"{arch.Name}: max abs diff {d} > {Tol}");
            Check(bytes, arch.Name);
        }
        log.WriteLine($"{space}: 50 nets, worst max abs diff {worst:E2}, {sw.Elapsed.TotalSeconds:F1} s (checker: {(fx.Checker.Available ? "on" : fx.Checker.Why)})");
    }

    /// <summary>Every activation, SE with either base and gate, grouped 1x1 convs + shuffle, skip 1x1, grouped and padded conv_bn_act, at opsets 13, 14, 17.</summary>
    public static Architecture AllConstructs() => new()
    {
        Name = "all-constructs", Input = new InputShape(3, 20, 20), Classes = 7,
        Stem = { Block.ConvBnAct(16, 3, 2, Activation.HSwish), new Block { Kind = BlockKind.ConvBnAct, Out = 16, Kernel = 3, Groups = 4, Padding = 2, Act = Activation.Relu6 } },
        Blocks =
        {
            Block.MBConv(16, 3, 1, 1, Activation.Relu, forceExpand: true, groups: 2, shuffle: true),
            Block.MBConv(24, 5, 3, 2, Activation.Swish, new SqueezeExcite(0.25, "in", Activation.Swish, Activation.Sigmoid)),
            Block.MBConv(24, 7, 4, 1, Activation.HSwish, new SqueezeExcite(0.25, "expanded", Activation.Relu, Activation.HSigmoid)),
            Block.MBConv(24, 3, 2, 1, Activation.Sigmoid, groups: 4, shuffle: true),
            Block.MBConv(24, 3, 6, 1, Activation.None),
            Block.Skip(24), Block.Skip(32, 2, Activation.HSigmoid), Block.Skip(40, 1, Activation.Relu6),
        },
        Head = new Head { Convs = { Block.ConvBnAct(48, 1, 1, Activation.HSwish) }, Dropout = 0.3 },
    };

    [Theory]
    [InlineData(13)] [InlineData(14)] [InlineData(17)]
    public void EveryConstructExportsAtEveryOpset(int opset)
    {
        var (d, bytes) = OnnxTestUtil.Compare(AllConstructs(), 5, batch: 3, new OnnxExportOptions { Opset = opset });
        Assert.True(d <= Tol, $"opset {opset}: max abs diff {d} > {Tol}");
        Check(bytes, $"all-constructs opset {opset}");
        var m = Tailor.Hardware.Onnx.Proto.ModelProto.Parser.ParseFrom(bytes);
        var ops = m.Graph.Node.Select(n => n.OpType).ToHashSet();
        Assert.Contains(opset >= 14 ? "HardSwish" : "HardSigmoid", ops);
        if (opset < 14) Assert.DoesNotContain("HardSwish", ops);
        foreach (var op in new[] { "Conv", "Relu", "Clip", "Sigmoid", "Mul", "HardSigmoid", "GlobalAveragePool", "Reshape", "Transpose", "Add", "Flatten", "Gemm" })
            Assert.Contains(op, ops);
        Assert.DoesNotContain("BatchNormalization", ops); // folded
        Assert.Contains(m.Graph.Node, n => n.Name == "blocks.0.shuffle.transpose");
        Assert.Contains(m.Graph.Node, n => n.Name == "blocks.2.se.gate");
        Assert.Equal(opset, m.OpsetImport.Single().Version);
    }

    [SkippableFact]
    public void OnnxCheckerAcceptsExports()
    {
        Skip.IfNot(fx.Checker.Available, $"onnx.checker not run: {fx.Checker.Why}");
        log.WriteLine($"onnx {fx.Checker.Version}");
        foreach (var name in Zoo.List().Select(e => e.Name))
            Assert.Null(fx.Checker.Check(OnnxExport.ToBytes(OnnxExport.FromArchitecture(Zoo.Get(name, new InputShape(3, 32, 32), 10), 1))));
        // a segment (one block alone, fixed batch), as the latency tables time them
        var a = AllConstructs();
        var an = ArchAnalysis.Analyze(a);
        Assert.Null(fx.Checker.Check(OnnxExport.ToBytes(OnnxExport.BuildSegment(a, an, 4, 5, new RandomWeights(0), new OnnxExportOptions { DynamicBatch = false, Batch = 1 }))));
        // and the checker really checks: a node reading an undefined tensor is rejected
        var bad = OnnxExport.FromArchitecture(Zoo.Get("mnasnet_a1", new InputShape(3, 32, 32), 10));
        bad.Graph.Node[3].Input[0] = "no_such_tensor";
        Assert.NotNull(fx.Checker.Check(OnnxExport.ToBytes(bad)));
    }

    [Fact]
    public void RandomWeightExportIsDeterministicAndSegmentsShareWeights()
    {
        var a = Zoo.Get("fbnet_c", new InputShape(3, 32, 32), 10);
        Assert.Equal(OnnxExport.ToBytes(OnnxExport.FromArchitecture(a, 3)), OnnxExport.ToBytes(OnnxExport.FromArchitecture(a, 3)));
        Assert.NotEqual(OnnxExport.ToBytes(OnnxExport.FromArchitecture(a, 3)), OnnxExport.ToBytes(OnnxExport.FromArchitecture(a, 4)));
        var an = ArchAnalysis.Analyze(a);
        var whole = OnnxExport.FromArchitecture(a, 3);
        var seg = OnnxExport.BuildSegment(a, an, 5, 6, new RandomWeights(3));
        var w = seg.Graph.Initializer.Single(t => t.Name == "blocks.4.conv_dw.weight");
        Assert.Equal(whole.Graph.Initializer.Single(t => t.Name == "blocks.4.conv_dw.weight").RawData, w.RawData);
        Assert.Equal("input", seg.Graph.Input.Single().Name);
        Assert.Equal(an.Layers[5].InChannels, seg.Graph.Input.Single().Type.TensorType.Shape.Dim[1].DimValue);
    }

    [Fact]
    public void UnsupportedConstructsAreRefusedInOneLine()
    {
        var a = Zoo.Get("mnasnet_a1", new InputShape(3, 32, 32), 10);
        var badAct = a with { Blocks = a.Blocks.Select((b, i) => i == 2 ? b with { Act = (Activation)42 } : b).ToList() };
        var e = Assert.Throws<TailorException>(() => OnnxExport.FromArchitecture(badAct));
        Assert.Equal("onnx export: $.blocks[2]: activation 42 has no ONNX export", e.Message);
        var badSe = a with { Blocks = a.Blocks.Select((b, i) => i == 4 ? b with { Se = b.Se! with { Gate = (Activation)9 } } : b).ToList() };
        Assert.Contains("$.blocks[4].se", Assert.Throws<TailorException>(() => OnnxExport.FromArchitecture(badSe)).Message);
        Assert.Contains("opset 12 is not supported", Assert.Throws<TailorException>(() => OnnxExport.FromArchitecture(a, 0, new OnnxExportOptions { Opset = 12 })).Message);
        Assert.Contains("opset 18 is not supported", Assert.Throws<TailorException>(() => OnnxExport.FromArchitecture(a, 0, new OnnxExportOptions { Opset = 18 })).Message);
    }

    [Fact]
    public void WeightsOfAnotherArchitectureAreRefused()
    {
        using var small = new ConvNet(Zoo.Get("mnasnet_b1", new InputShape(3, 32, 32), 10));
        var other = Zoo.Get("mobilenet_v2", new InputShape(3, 32, 32), 10);
        var e = Assert.Throws<TailorException>(() => OnnxExport.Build(other, new ConvNetWeights(small)));
        Assert.StartsWith("weights: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void CliExportWritesAValidModelAndBadInputLeavesNothing()
    {
        string dir = HwData.TempDir();
        // trained-looking weights: save a ConvNet, export with --weights, compare with ORT
        var arch = Zoo.Get("mnasnet_a1", new InputShape(3, 32, 32), 10);
        string archPath = Path.Combine(dir, "a.json"), wPath = Path.Combine(dir, "w.bin"), onnx = Path.Combine(dir, "m.onnx");
        ArchJson.Save(arch, archPath);
        using (var net = new ConvNet(arch)) { OnnxTestUtil.RandomizeBatchNorm(net, 9); Weights.Save(net, wPath); }
        var r = CliProcess.Run("export", "onnx", "--arch", archPath, "--weights", wPath, "--out", onnx);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("opset 14", r.Out);
        var rj = CliProcess.Run("export", "onnx", "--arch", archPath, "--weights", wPath, "--out", onnx + ".j", "--batch", "2", "--json");
        Assert.True(rj.Code == 0, rj.Err);
        var j = System.Text.Json.Nodes.JsonNode.Parse(rj.Out)!;
        Assert.Equal(14, (int)j["opset"]!);
        Assert.Equal(2, (int)j["batch"]!);
        Assert.Equal(new FileInfo(onnx + ".j").Length, (long)j["bytes"]!);
        Assert.Equal(ArchAnalysis.Analyze(arch).Macs, (long)j["macs"]!);
        File.Delete(onnx + ".j");
        using (var net = new ConvNet(arch))
        {
            Weights.Load(net, wPath);
            net.eval();
            var x = TorchSharp.torch.randn(1, 3, 32, 32);
            float[] want;
            using (TorchSharp.torch.no_grad()) want = net.call(x).data<float>().ToArray();
            var got = OrtRunner.Run(File.ReadAllBytes(onnx), x.data<float>().ToArray(), x.shape);
            Assert.True(want.Zip(got, (p, q) => Math.Abs(p - q)).Max() <= Tol);
        }
        // bad input: one line, exit 2, no file
        string bad = Path.Combine(dir, "bad.onnx");
        CliProcess.AssertOneLineError(CliProcess.Run("export", "onnx", "--arch", "zoo:mnasnet_a1", "--opset", "11", "--out", bad), "--opset 11: not supported");
        CliProcess.AssertOneLineError(CliProcess.Run("export", "onnx", "--arch", archPath, "--weights", Path.Combine(dir, "missing.bin"), "--out", bad), "weights file not found");
        var wrong = Path.Combine(dir, "wrong.bin");
        using (var other = new ConvNet(Zoo.Get("mnasnet_b1", new InputShape(3, 32, 32), 10))) Weights.Save(other, wrong);
        CliProcess.AssertOneLineError(CliProcess.Run("export", "onnx", "--arch", archPath, "--weights", wrong, "--out", bad), "not a weights file for this architecture");
        Assert.False(File.Exists(bad));
        Assert.Empty(Directory.GetFiles(dir, ".*")); // no temp files left behind
    }
}
