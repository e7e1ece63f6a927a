using System.Diagnostics;
using Tailor.Arch;
using Tailor.Hardware.Onnx;
using Xunit.Abstractions;

namespace Tailor.Tests.Hardware;

public class OnnxExportTests(ITestOutputHelper log)
{
    const double Tol = 1e-4;

    [Theory]
    [InlineData("mobilenet_v2")] [InlineData("mnasnet_a1")] [InlineData("mnasnet_b1")]
    [InlineData("spnasnet")] [InlineData("efficientnet_b0")] [InlineData("fbnet_c")]
    public void ZooNetworkMatchesTorchSharp(string name)
    {
        var arch = Zoo.Get(name, new InputShape(3, 32, 32), 10);
        var (d, _) = OnnxTestUtil.Compare(arch, 1);
        log.WriteLine($"{name}: max abs diff {d:E2}");
        Assert.True(d <= Tol, $"{name}: max abs diff {d} > {Tol}");
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
            var (d, _) = OnnxTestUtil.Compare(arch, 100 + i, batch: 1);
            worst = Math.Max(worst, d);
            Assert.True(d <= Tol, $"{arch.Name}: max abs diff {d} > {Tol}");
        }
        log.WriteLine($"{space}: 50 nets, worst max abs diff {worst:E2}, {sw.Elapsed.TotalSeconds:F1} s");
    }
}
