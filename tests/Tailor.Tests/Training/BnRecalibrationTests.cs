using Tailor.Data;
using Tailor.Training;
using TorchSharp;
using static TorchSharp.torch;
using Tailor.Util;

namespace Tailor.Tests.Training;

[Collection("serial")]
public class BnRecalibrationTests
{
    [Fact]
    public void RunningStatisticsBecomeThePlainAverageOverTheBatches()
    {
        var d = Datasets.Open("fashion-mnist").Train;
        var sub = Splits.Subset(d, 256, 0);
        using var loader = new Tailor.Data.DataLoader(sub, 32, Normalization.Of(sub), shuffle: true, dropLast: true);
        var bn = nn.BatchNorm2d(1, momentum: 0.1);
        var model = nn.Sequential(("bn", (nn.Module<Tensor, Tensor>)bn));
        // garbage statistics, as after the first steps of a training
        using (torch.no_grad()) { bn.running_mean!.fill_(50); bn.running_var!.fill_(1e4); }
        model.eval();
        var rng = new Rng(7);
        Trainer.RecalibrateBatchNorm(model, loader, 3, Rng.FromState(rng.GetState()), channelsLast: false);

        // expected: mean of the three batch means and of the three unbiased batch variances (same order)
        double mean = 0, var_ = 0; int n = 0;
        foreach (var b in loader.Batches(Rng.FromState(rng.GetState())))
        {
            mean += b.Images.mean().item<float>();
            var_ += b.Images.var().item<float>();
            if (++n == 3) break;
        }
        Assert.Equal(mean / 3, bn.running_mean!.item<float>(), 4);
        Assert.Equal(var_ / 3, bn.running_var!.item<float>(), 3);
        Assert.Equal(0.1, bn.momentum!.Value, 12);   // momentum restored
        Assert.False(model.training);                // mode restored
    }

    [Fact]
    public void ZeroBatchesLeavesTheStatisticsAlone()
    {
        var bn = nn.BatchNorm2d(2);
        using (torch.no_grad()) bn.running_mean!.fill_(3);
        var d = Datasets.Open("fashion-mnist").Train;
        var sub = Splits.Subset(d, 64, 0);
        using var loader = new Tailor.Data.DataLoader(sub, 32, Normalization.Of(sub), shuffle: false);
        Trainer.RecalibrateBatchNorm(nn.Sequential(("bn", (nn.Module<Tensor, Tensor>)bn)), loader, 0, new Rng(1));
        Assert.Equal(3f, bn.running_mean![0].item<float>());
        Assert.Throws<TailorException>(() => new TrainConfig { BnRecalibrationBatches = -1 }.Validate());
    }
}
