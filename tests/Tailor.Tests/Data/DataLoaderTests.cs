using Tailor.Data;
using static TorchSharp.torch;
using Tailor.Util;

namespace Tailor.Tests.Data;

public class DataLoaderTests
{
    static float[] Images(Batch b) => b.Images.data<float>().ToArray();
    static long[] Labels(Batch b) => b.Labels.data<long>().ToArray();

    [Fact]
    public void WithoutAugmentationBatchesAreTheNormalisedImagesInOrder()
    {
        var d = TestData.Synthetic(10, 2, 4, 5);
        var norm = new Normalization(new[] { 0.5, 0.25 }, new[] { 0.2, 0.4 });
        using var loader = new DataLoader(d, 4, norm);
        var batches = loader.Batches().Select(b => (Images(b), Labels(b), b.Count)).ToList();
        Assert.Equal(new[] { 4, 4, 2 }, batches.Select(b => b.Count));
        var all = batches.SelectMany(b => b.Item1).ToArray();
        Assert.Equal(d.Pixels.Length, all.Length);
        for (int i = 0; i < d.Pixels.Length; i++)
        {
            int ch = i / 20 % 2;
            Assert.Equal((float)((d.Pixels[i] / 255.0 - norm.Mean[ch]) / norm.Std[ch]), all[i], 5);
        }
        Assert.Equal(d.Labels.Select(l => (long)l), batches.SelectMany(b => b.Item2));
    }

    [Fact]
    public void ShuffleVisitsEveryImageOnceAndFollowsTheRng()
    {
        var d = TestData.Synthetic(50);
        using var loader = new DataLoader(d, 8, Normalization.Identity(1), shuffle: true, dropLast: true);
        Assert.Equal(6, loader.BatchCount);
        Assert.Equal(48, loader.ImagesPerEpoch);
        var r1 = new Rng(5);
        var first = loader.Batches(r1).SelectMany(Images).ToArray();
        var r2 = new Rng(5);
        var again = loader.Batches(r2).SelectMany(Images).ToArray();
        Assert.Equal(first, again);
        var second = loader.Batches(r1).SelectMany(Images).ToArray();
        Assert.NotEqual(first, second); // the generator moved on: a new order
        // full pass without dropping: a permutation of the whole set
        using var full = new DataLoader(d, 8, Normalization.Identity(1), shuffle: true);
        var seen = new List<float>();
        foreach (var b in full.Batches(new Rng(9))) seen.AddRange(Images(b).Chunk(144).Select(img => img.Sum()));
        var expect = Enumerable.Range(0, 50).Select(i => d.Pixels.AsSpan(i * 144, 144).ToArray().Sum(p => p / 255f)).ToArray();
        Assert.Equal(expect.Order().Select(v => Math.Round(v, 2)), seen.Order().Select(v => Math.Round(v, 2)));
    }

    [Fact]
    public void CropFlipMatchesTheReferenceDefinition()
    {
        // out(y, x) = padded(y + i, x' + j), x' = flipped x; zero padding of 4 pixels
        var d = TestData.Synthetic(16, 3, 8, 8);
        using var loader = new DataLoader(d, 16, Normalization.Identity(3), augment: Augmentation.CropFlip);
        var rng = new Rng(11);
        var got = Images(loader.Batches(rng).Single());
        var replay = new Rng(11); // no shuffle: three draws per image, in order
        for (int n = 0; n < 16; n++)
        {
            int oy = replay.Next(9) - 4, ox = replay.Next(9) - 4;
            bool flip = replay.Next(2) == 1;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 8; y++)
                    for (int x = 0; x < 8; x++)
                    {
                        int sy = y + oy, sx = (flip ? 7 - x : x) + ox;
                        float expect = sy is >= 0 and < 8 && sx is >= 0 and < 8 ? d.Pixels[((n * 3 + c) * 8 + sy) * 8 + sx] / 255f : 0f;
                        Assert.Equal(expect, got[((n * 3 + c) * 8 + y) * 8 + x], 6);
                    }
        }
    }

    [Fact]
    public void BatchTensorsAreReusedNotReallocated()
    {
        var d = TestData.Synthetic(64);
        using var loader = new DataLoader(d, 16, Normalization.Identity(1), shuffle: true);
        var handles = loader.Batches(new Rng(1)).Select(b => b.Images.Handle).Distinct().ToList();
        Assert.Single(handles);
    }

    [Fact]
    public void ChannelsLastYieldsTheSameValuesInChannelsLastOrder()
    {
        var d = TestData.Synthetic(20, 3, 5, 6);
        using var plain = new DataLoader(d, 8, Normalization.Of(d), shuffle: true, augment: Augmentation.CropFlip);
        using var cl = new DataLoader(d, 8, Normalization.Of(d), shuffle: true, augment: Augmentation.CropFlip) { ChannelsLast = true };
        var a = plain.Batches(new Rng(4)).Select(b => b.Images.clone()).ToList();
        var b = cl.Batches(new Rng(4)).Select(b => (b.Images.clone(), b.Images.stride(), b.Images.Handle, b.Count)).ToList();
        Assert.Equal(3, b.Count);
        Assert.Equal(4, b[2].Count); // the partial batch has its own tensor
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(a[i].shape, b[i].Item1.shape);
            Assert.True(a[i].eq(b[i].Item1).all().item<bool>());
            Assert.Equal(1, b[i].Item2[1]); // channels are the innermost dimension
        }
        Assert.Equal(b[0].Handle, b[1].Handle); // reused, not reallocated
    }

    [Fact]
    public void LoaderNeedsAnRngToShuffle()
    {
        using var loader = new DataLoader(TestData.Synthetic(8), 4, Normalization.Identity(1), shuffle: true);
        Assert.Throws<ArgumentNullException>(() => loader.Batches().ToList());
    }

    [Fact]
    public void StatsAreThoseOfThePixels()
    {
        var d = TestData.Synthetic(20, 2, 4, 4);
        var (m, s) = d.ChannelStats();
        for (int c = 0; c < 2; c++)
        {
            var v = Enumerable.Range(0, 20).SelectMany(n => d.Pixels.AsSpan((n * 2 + c) * 16, 16).ToArray()).Select(b => b / 255.0).ToArray();
            double mean = v.Average();
            Assert.Equal(mean, m[c], 9);
            Assert.Equal(Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average()), s[c], 9);
        }
    }
}
