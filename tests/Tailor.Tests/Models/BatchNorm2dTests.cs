using Tailor.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Tests.Models;

/// <summary>Tailor's BatchNorm2d must compute what TorchSharp's does, bit for bit, in every mode it is used in.</summary>
[Collection("serial")]
public class BatchNorm2dTests
{
    [Theory]
    [InlineData(true, true, 0.1)]    // trained networks
    [InlineData(true, true, 0.01)]   // TF-style momentum (the zoo's MnasNet/EfficientNet)
    [InlineData(false, false, 0.1)]  // search supernets: no affine, batch statistics always
    [InlineData(true, false, 0.1)]
    [InlineData(true, true, null)]   // cumulative average (BN recalibration)
    public void MatchesTorchSharpInTrainAndEvalMode(bool affine, bool track, double? momentum)
    {
        using var scope = NewDisposeScope();
        var ours = new Tailor.Models.BatchNorm2d(3, eps: 1e-3, affine: affine, trackRunningStats: track) { momentum = momentum };
        var theirs = nn.BatchNorm2d(3, eps: 1e-3, affine: affine, track_running_stats: track);
        theirs.momentum = momentum;
        Assert.Equal(theirs.state_dict().Keys.ToArray(), ours.state_dict().Keys.ToArray());
        if (affine)
            using (no_grad())
            {
                // the same non-trivial affine parameters in both
                var w = tensor(new float[] { 0.5f, 1.5f, -2f }); var b = tensor(new float[] { 0.1f, -0.3f, 0.7f });
                ours.weight.copy_(w); theirs.weight.copy_(w); ours.bias!.copy_(b); theirs.bias!.copy_(b);
            }
        var g = new Generator(7);
        for (int step = 0; step < 4; step++)
        {
            var x = randn(new long[] { 5, 3, 4, 4 }, generator: g) * (step + 1) + step;
            ours.train(); theirs.train();
            Assert.True(Same(ours.call(x), theirs.call(x)), $"train step {step}");
        }
        if (track)
        {
            Assert.True(Same(ours.running_mean!, theirs.running_mean!));
            Assert.True(Same(ours.running_var!, theirs.running_var!));
            Assert.Equal(4L, ours.num_batches_tracked!.item<long>());
            Assert.Equal(theirs.num_batches_tracked!.item<long>(), ours.num_batches_tracked!.item<long>());
        }
        ours.eval(); theirs.eval();
        var xe = randn(new long[] { 2, 3, 4, 4 }, generator: g);
        Assert.True(Same(ours.call(xe), theirs.call(xe)), "eval");
        // eval leaves the counter alone
        if (track) Assert.Equal(4L, ours.num_batches_tracked!.item<long>());
    }

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void RefusesNonImageInput()
    {
        using var bn = new Tailor.Models.BatchNorm2d(3);
        Assert.Throws<ArgumentException>(() => bn.call(zeros(2, 3)));
    }

    [Fact]
    public void TheModelBuilderUsesIt()
    {
        using var net = new Tailor.Models.ConvNet(Tailor.Arch.Zoo.Get("mobilenet_v2_cifar"));
        var norms = net.modules().OfType<TorchSharp.Modules.NormBase>().ToList();
        Assert.NotEmpty(norms);
        Assert.All(norms, m => Assert.IsType<Tailor.Models.BatchNorm2d>(m));
    }

    // TorchSharp's nn.BatchNorm2d counts batches with a temporary Scalar (see Models.BatchNorm2d): no module may build one
    [Fact]
    public void NoSourceFileBuildsTorchSharpsBatchNorm()
    {
        var src = Path.Combine(Tailor.Tests.Hardware.HwData.RepoRoot, "src");
        var offenders = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => File.ReadLines(f).Any(l => !l.TrimStart().StartsWith("//") && l.Contains("nn.BatchNorm")))
            .Select(f => Path.GetRelativePath(src, f)).ToList();
        Assert.Empty(offenders);
    }
}
