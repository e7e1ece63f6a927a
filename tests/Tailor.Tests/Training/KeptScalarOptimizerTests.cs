using Tailor.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Tests.Training;

/// <summary>The scalar-safe optimizers must be TorchSharp's update exactly (bit for bit), with TorchSharp's state layout.</summary>
public class KeptScalarOptimizerTests
{
    // Runs 6 steps with changing learning rates and gradients from a fixed generator; the third parameter never gets a gradient.
    static float[][] Run(Func<IEnumerable<Parameter>, OptimizerHelper> make, out OptimizerHelper opt)
    {
        var gen = new torch.Generator(7);
        var ps = new[] { new Parameter(torch.randn(new long[] { 4, 3 }, generator: gen)), new Parameter(torch.randn(new long[] { 5 }, generator: gen)), new Parameter(torch.ones(2)) };
        opt = make(ps);
        for (int s = 0; s < 6; s++)
        {
            foreach (var g in opt.ParamGroups) g.LearningRate = 0.05 * (1 + s % 3);
            opt.zero_grad();
            var loss = (ps[0] * torch.randn(new long[] { 4, 3 }, generator: gen)).sum() + (ps[1] * ps[1] * (1 + s)).sum();
            loss.backward();
            opt.step();
        }
        return ps.Select(p => p.data<float>().ToArray()).ToArray();
    }

    static void Same(Func<IEnumerable<Parameter>, OptimizerHelper> ours, Func<IEnumerable<Parameter>, OptimizerHelper> theirs)
    {
        using var scope = NewDisposeScope();
        var a = Run(ours, out var oa);
        var b = Run(theirs, out var ob);
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i]); // exact
        // The state saves and loads (TorchSharp's format, tagged with our type name).
        var ms = new MemoryStream();
        oa.save_state_dict(new BinaryWriter(ms));
        ms.Position = 0;
        Run(ours, out var oc);
        oc.load_state_dict(new BinaryReader(ms));
        var sa = oa.state_dict().State; var sc = oc.state_dict().State;
        for (int i = 0; i < sa.Count; i++) Assert.True(sa[i].ApproximatelyEquals(sc[i]));
    }

    [Theory]
    [InlineData(0.0, 0.0, false)]
    [InlineData(0.9, 1e-4, false)]
    [InlineData(0.9, 0.0, true)]
    [InlineData(0.8, 0.0, false)]
    public void SgdIsTorchSharpsSgd(double momentum, double wd, bool nesterov) => Same(
        ps => new KeptScalarSgd(ps, 0.1, momentum: momentum, weight_decay: wd, nesterov: nesterov, dampening: momentum == 0.8 ? 0.1 : 0),
        ps => new SGD(ps, 0.1, momentum: momentum, weight_decay: wd, nesterov: nesterov, dampening: momentum == 0.8 ? 0.1 : 0));

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(1e-3, false)]
    [InlineData(0.0, true)]
    public void AdamIsTorchSharpsAdam(double wd, bool amsgrad) => Same(
        ps => new KeptScalarAdam(ps, 0.01, weight_decay: wd, amsgrad: amsgrad),
        ps => new Adam(ps, 0.01, weight_decay: wd, amsgrad: amsgrad));

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.9, false)]
    [InlineData(0.9, true)]
    public void RmsPropIsTorchSharpsRmsProp(double momentum, bool centered) => Same(
        ps => new KeptScalarRmsProp(ps, 0.01, alpha: 0.9, eps: 1e-3, weight_decay: 1e-4, momentum: momentum, centered: centered),
        ps => new RMSProp(ps, 0.01, alpha: 0.9, eps: 1e-3, weight_decay: 1e-4, momentum: momentum, centered: centered));
}
