using Tailor.Arch;
using Tailor.Data;
using Tailor.Models;
using Tailor.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Tests.Training;

/// <summary>A tiny net and data so that training tests run in a second or two.</summary>
public static class Kit
{
    public static Architecture TinyArch(int channels = 1, int size = 12) => new()
    {
        Name = "tiny",
        Input = new InputShape(channels, size, size),
        Classes = 10,
        Stem = { Block.ConvBnAct(8, 3, 2) },
        Blocks = { Block.MBConv(8, 3, 2, 1, se: new SqueezeExcite(0.25)), Block.MBConv(16, 3, 3, 2) },
        Head = new Head { Convs = { Block.ConvBnAct(32, 1) }, Dropout = 0.2 },
    };

    /// <summary>Every parameter and buffer, concatenated, as raw bits.</summary>
    public static byte[] StateBytes(nn.Module m)
    {
        var ms = new MemoryStream();
        foreach (var (k, t) in m.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            ms.Write(System.Text.Encoding.UTF8.GetBytes(k));
            ms.Write(t.contiguous().bytes);
        }
        return ms.ToArray();
    }

    public sealed class Setup : IDisposable
    {
        public required ConvNet Net { get; init; }
        public required DataLoader Train { get; init; }
        public required DataLoader Val { get; init; }
        public required Trainer Trainer { get; init; }
        public void Dispose() { Net.Dispose(); Train.Dispose(); Val.Dispose(); (Trainer.Optimizer as IDisposable)?.Dispose(); }
    }

    public static Setup Build(TrainConfig cfg, int images = 256)
    {
        torch.set_num_threads(Environment.ProcessorCount);
        var d = Tailor.Tests.Data.TestData.Synthetic(images, 1, 12, 12);
        var (tr, va) = Splits.TrainVal(d, ValSplit.Parse("0.25"), cfg.Seed);
        var norm = Normalization.Of(tr);
        torch.manual_seed(cfg.Seed);
        var net = new ConvNet(TinyArch());
        var train = new DataLoader(tr, cfg.BatchSize, norm, shuffle: true, augment: Augmentation.CropFlip, dropLast: true);
        var val = new DataLoader(va!, 64, norm);
        return new Setup { Net = net, Train = train, Val = val, Trainer = new Trainer(net, cfg, train, val) };
    }
}
