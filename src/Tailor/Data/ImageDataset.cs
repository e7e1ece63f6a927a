namespace Tailor.Data;

/// <summary>
/// An image classification set held in memory as one contiguous byte array (N x C x H x W,
/// planar, 0..255) plus one label byte per image. Loaders (<see cref="Idx"/>, <see cref="Cifar10"/>)
/// validate their files; batching reads straight from these arrays (<see cref="DataLoader"/>).
/// </summary>
public sealed class ImageDataset
{
    public string Name { get; }
    public int Count { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int Classes { get; }
    /// <summary>N x C x H x W bytes, planar per image (all of channel 0, then channel 1, ...).</summary>
    public byte[] Pixels { get; }
    public byte[] Labels { get; }
    public IReadOnlyList<string> ClassNames { get; }

    public int SampleSize => Channels * Height * Width;
    public Arch.InputShape Shape => new(Channels, Height, Width);

    public ImageDataset(string name, byte[] pixels, byte[] labels, int channels, int height, int width, int classes = 10, IReadOnlyList<string>? classNames = null)
    {
        if (channels < 1 || height < 1 || width < 1) throw new ArgumentException("image dimensions must be positive");
        long size = (long)channels * height * width;
        if (pixels.LongLength != size * labels.LongLength)
            throw new ArgumentException($"{name}: {pixels.LongLength} pixel bytes do not hold {labels.Length} images of {channels}x{height}x{width}");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classes) throw new TailorException($"{name}: image {i} has label {labels[i]} (expected 0..{classes - 1})");
        Name = name; Pixels = pixels; Labels = labels;
        Count = labels.Length; Channels = channels; Height = height; Width = width; Classes = classes;
        ClassNames = classNames ?? Enumerable.Range(0, classes).Select(i => i.ToString()).ToArray();
    }

    /// <summary>A copy holding the given images, in the given order.</summary>
    public ImageDataset Subset(ReadOnlySpan<int> indices, string? name = null)
    {
        int s = SampleSize;
        var px = new byte[(long)indices.Length * s];
        var lb = new byte[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int j = indices[i];
            if ((uint)j >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"index {j} outside 0..{Count - 1}");
            Buffer.BlockCopy(Pixels, j * s, px, i * s, s);
            lb[i] = Labels[j];
        }
        return new ImageDataset(name ?? Name, px, lb, Channels, Height, Width, Classes, ClassNames);
    }

    public int[] ClassCounts()
    {
        var c = new int[Classes];
        foreach (var l in Labels) c[l]++;
        return c;
    }

    /// <summary>Per-channel mean and standard deviation of the pixels scaled to [0, 1].</summary>
    public (double[] Mean, double[] Std) ChannelStats()
    {
        var mean = new double[Channels];
        var std = new double[Channels];
        int plane = Height * Width;
        for (int c = 0; c < Channels; c++)
        {
            // histogram: exact and fast
            var hist = new long[256];
            for (int n = 0; n < Count; n++)
            {
                var span = Pixels.AsSpan(n * SampleSize + c * plane, plane);
                foreach (var b in span) hist[b]++;
            }
            double total = (double)Count * plane, s = 0, s2 = 0;
            for (int v = 0; v < 256; v++) { double x = v / 255.0; s += hist[v] * x; s2 += hist[v] * x * x; }
            mean[c] = total > 0 ? s / total : 0;
            std[c] = total > 0 ? Math.Sqrt(Math.Max(0, s2 / total - mean[c] * mean[c])) : 1;
            if (std[c] < 1e-6) std[c] = 1;
        }
        return (mean, std);
    }
}
