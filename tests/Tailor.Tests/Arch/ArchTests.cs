using Tailor.Arch;

namespace Tailor.Tests.Arch;

public class ZooCountTests
{
    // Exact published / reference-implementation figures at 224x224x3, 1000 classes.
    [Theory]
    [InlineData("mobilenet_v2", 3_504_872L, 300.77e6)]   // torchvision mobilenet_v2; paper 3.4M / 300M
    [InlineData("mnasnet_b1", 4_383_312L, 314.4e6)]     // torchvision mnasnet1_0
    [InlineData("efficientnet_b0", 5_288_548L, 385.8e6)] // torchvision efficientnet_b0; paper 5.3M / 0.39B
    [InlineData("mnasnet_a1", 3_887_038L, 311.6e6)]     // timm mnasnet_a1 (3.89M); paper 3.9M / 312M
    [InlineData("spnasnet", 4_421_616L, 333.5e6)]       // timm spnasnet_100 (4.42M)
    [InlineData("fbnet_c", 5_572_200L, 385.0e6)]        // the public block list (timm fbnetc_100: 5.57M); paper 5.5M / 375M, see docs/zoo.md
    public void ZooMatchesReference(string name, long parameters, double macs)
    {
        var an = ArchAnalysis.Analyze(Zoo.Get(name));
        Assert.Equal(parameters, an.Params);
        Assert.InRange(an.Macs, macs * 0.999, macs * 1.001);
    }

    [Fact]
    public void MobileNetV2CountsAtOtherInputsAndClasses()
    {
        var a = Zoo.Get("mobilenet_v2", new InputShape(3, 32, 32), 10);
        var an = ArchAnalysis.Analyze(a);
        // FC shrinks from 1280*1000+1000 to 1280*10+10
        Assert.Equal(3_504_872L - 1_281_000 + 12_810, an.Params);
        Assert.Equal(new[] { 1280, 1, 1 }, new[] { an.FeatureChannels, an.Layers[^2].OutH, an.Layers[^2].OutW });
    }

    [Fact]
    public void ResidualFollowsMBConvRule()
    {
        var an = ArchAnalysis.Analyze(Zoo.Get("mobilenet_v2"));
        var mb = an.Layers.Where(l => l.Kind == "mbconv").ToList();
        Assert.All(mb, l => Assert.Equal(l.Block!.Stride == 1 && l.InChannels == l.OutChannels, l.Residual));
        Assert.Equal(10, mb.Count(l => l.Residual));
    }
}

public class ArchJsonTests
{
    [Theory]
    [InlineData("mobilenet_v2")] [InlineData("mnasnet_a1")] [InlineData("mnasnet_b1")]
    [InlineData("spnasnet")] [InlineData("efficientnet_b0")] [InlineData("fbnet_c")]
    public void ZooRoundTripsByteIdentically(string name)
    {
        string json = ArchJson.Write(Zoo.Get(name));
        var back = ArchJson.Parse(json);
        Assert.Equal(json, ArchJson.Write(back));
        Assert.Equal(ArchAnalysis.Analyze(Zoo.Get(name)).Params, ArchAnalysis.Analyze(back).Params);
    }

    [Fact]
    public void AllBlockKindsAndOptionsRoundTrip()
    {
        var a = new Architecture
        {
            Name = "all-kinds", Input = new InputShape(1, 28, 28), Classes = 10,
            Stem = { Block.ConvBnAct(16, 3, 2, Activation.HSwish) },
            Blocks =
            {
                Block.MBConv(16, 7, 1, 1, Activation.Relu6),
                Block.MBConv(24, 5, 4, 2, Activation.Swish, new SqueezeExcite(0.25, "expanded", Activation.Relu, Activation.HSigmoid)),
                Block.MBConv(24, 3, 2, 1, Activation.Relu, groups: 2, shuffle: true),
                Block.MBConv(24, 3, 1, 1, Activation.Relu, groups: 2, shuffle: true, forceExpand: true),
                Block.Skip(24), Block.Skip(32, 2), new Block { Kind = BlockKind.ConvBnAct, Out = 32, Kernel = 1, Padding = 0, Groups = 2, In = 32, Act = Activation.None },
            },
            Head = new Head { Convs = { Block.ConvBnAct(64, 1, 1) }, Dropout = 0.1 },
        };
        string json = ArchJson.Write(a);
        Assert.Equal(json, ArchJson.Write(ArchJson.Parse(json)));
    }

    static string Mutate(string find, string replace)
    {
        string json = ArchJson.Write(Zoo.Get("mobilenet_v2"));
        Assert.Contains(find, json);
        int i = json.IndexOf(find, StringComparison.Ordinal);
        return json[..i] + replace + json[(i + find.Length)..];
    }

    static string ErrorOf(string json) => Assert.Throws<TailorException>(() => ArchJson.Parse(json, "net.json")).Message;

    [Fact]
    public void UnknownBlockKindNamesBlockAndChoices()
    {
        var m = ErrorOf(Mutate("\"kind\": \"mbconv\", \"out\": 24", "\"kind\": \"fancy\", \"out\": 24"));
        Assert.Equal("net.json: $.blocks[1].kind: unknown block kind 'fancy'; expected one of conv_bn_act, mbconv, skip", m);
    }

    [Fact]
    public void BadKernelSaysWhatWasExpected()
    {
        var m = ErrorOf(Mutate("\"out\": 24, \"kernel\": 3", "\"out\": 24, \"kernel\": 4"));
        Assert.Equal("net.json: $.blocks[1].kernel: expected one of 3, 5, 7 (got 4)", m);
    }

    [Fact]
    public void WrongTypeAndMissingAndUnknownFields()
    {
        Assert.Equal("net.json: $.blocks[1].expansion: expected an integer, got string \"6\"",
            ErrorOf(Mutate("\"expansion\": 6, \"stride\": 2, \"act\": \"relu6\"}", "\"expansion\": \"6\", \"stride\": 2, \"act\": \"relu6\"}")));
        Assert.Equal("net.json: $.blocks[1].out: missing required field", ErrorOf(Mutate("\"out\": 24, ", "")));
        Assert.StartsWith("net.json: $.blocks[1]: unknown field 'kernal'", ErrorOf(Mutate("\"out\": 24, \"kernel\"", "\"out\": 24, \"kernal\"")));
        Assert.StartsWith("net.json: $.stem[0].act: unknown activation 'gelu'", ErrorOf(Mutate("\"act\": \"relu6\"", "\"act\": \"gelu\"")));
        Assert.Equal("net.json: $.version: unsupported version 2; this Tailor reads version 1", ErrorOf(Mutate("\"version\": 1", "\"version\": 2")));
        Assert.StartsWith("net.json: not valid JSON", ErrorOf("{\"format\": "));
    }

    [Fact]
    public void ChannelMismatchIsRejected()
    {
        var m = ErrorOf(Mutate("{\"kind\": \"mbconv\", \"out\": 24", "{\"kind\": \"mbconv\", \"in\": 32, \"out\": 24"));
        Assert.Equal("net.json: $.blocks[1]: channel mismatch: block declares in=32 but receives 16 channels", m);
        var g = ErrorOf(Mutate("{\"kind\": \"mbconv\", \"out\": 24, \"kernel\": 3, \"expansion\": 6", "{\"kind\": \"mbconv\", \"out\": 24, \"kernel\": 3, \"expansion\": 6, \"groups\": 5"));
        Assert.Contains("$.blocks[1]: groups: 5 must divide", g);
    }

    [Fact]
    public void SpatialSizeBelowOneIsRejected()
    {
        var a = new Architecture { Input = new InputShape(3, 4, 4), Classes = 10, Blocks = { new Block { Kind = BlockKind.ConvBnAct, Out = 8, Kernel = 7, Padding = 0 } } };
        var m = Assert.Throws<TailorException>(() => ArchJson.Parse(ArchJson.Write(a), "tiny.json")).Message;
        Assert.Equal("tiny.json: $.blocks[0]: impossible shape: a 7x7 conv (stride 1, padding 0) on 4x4 gives 0x0", m);
    }

    [Fact]
    public void InputShapeParsing()
    {
        Assert.Equal(new InputShape(3, 32, 32), InputShape.Parse("3x32x32"));
        Assert.Throws<TailorException>(() => InputShape.Parse("3x32"));
        Assert.Throws<TailorException>(() => InputShape.Parse("0x32x32"));
    }
}
