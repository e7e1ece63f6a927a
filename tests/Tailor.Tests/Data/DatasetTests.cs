using System.IO.Compression;
using Tailor.Data;
using Tailor.Util;

namespace Tailor.Tests.Data;

public class CifarTests
{
    [SkippableFact]
    public void SharedSubsetMatchesTheReadmeCheckValues()
    {
        string dir = TestData.CifarSubset;
        Skip.IfNot(Directory.Exists(dir), $"missing {dir} (the shared CIFAR-10 subset)");
        var src = Datasets.Open($"cifar10:{dir}");
        var tr = src.Train;
        Assert.Equal((4000, 3, 32, 32), (tr.Count, tr.Channels, tr.Height, tr.Width));
        Assert.Equal(6, tr.Labels[0]);
        Assert.Equal("frog", tr.ClassNames[6]);
        Assert.Equal(new byte[] { 59, 43, 50, 68, 98 }, tr.Pixels[0..5]);
        Assert.Equal(new byte[] { 62, 46, 48, 54, 73 }, tr.Pixels[1024..1029]);
        Assert.Equal(new byte[] { 63, 45, 43, 42, 52 }, tr.Pixels[2048..2053]);
        Assert.Equal(new[] { 396, 366, 420, 384, 422, 393, 414, 385, 407, 413 }, tr.ClassCounts());
        var te = src.Test!;
        Assert.Equal(1000, te.Count);
        Assert.Equal(3, te.Labels[0]);
        Assert.Equal("cat", te.ClassNames[3]);
        Assert.Equal(new[] { 103, 89, 100, 103, 90, 86, 112, 102, 106, 109 }, te.ClassCounts());
        Assert.Equal(Augmentation.CropFlip, src.DefaultAugmentation);
    }

    [Fact]
    public void AnyWholeNumberOfRecordsRoundTrips()
    {
        var dir = TestData.TempDir("cifar");
        var d = TestData.Synthetic(7, 3, 32, 32);
        Cifar10.Write(Path.Combine(dir, "data_batch_1.bin"), d);
        var back = Cifar10.Load(new[] { Path.Combine(dir, "data_batch_1.bin") }, "x");
        Assert.Equal(d.Pixels, back.Pixels);
        Assert.Equal(d.Labels, back.Labels);
        // a plain directory is recognised as CIFAR-10; no test_batch.bin means no test split
        var src = Datasets.Open(dir);
        Assert.Equal("cifar10", src.Kind);
        Assert.Null(src.Test);
    }

    [Fact]
    public void SizeNotAMultipleOfTheRecordIsRejectedNamingTheFile()
    {
        var dir = TestData.TempDir("cifar-bad");
        string p = Path.Combine(dir, "data_batch_1.bin");
        File.WriteAllBytes(p, new byte[3073 * 2 + 100]);
        var e = Assert.Throws<TailorException>(() => Datasets.Open($"cifar10:{dir}"));
        Assert.Contains(p, e.Message);
        Assert.Contains("not a whole number of 3,073-byte", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void LabelAboveNineIsRejectedWithTheRecordNumber()
    {
        var dir = TestData.TempDir("cifar-label");
        string p = Path.Combine(dir, "data_batch_1.bin");
        var bytes = new byte[3073 * 3];
        bytes[3073 * 2] = 12;
        File.WriteAllBytes(p, bytes);
        var e = Assert.Throws<TailorException>(() => Datasets.Open($"cifar10:{dir}"));
        Assert.Contains(p, e.Message);
        Assert.Contains("record 2 has label 12", e.Message);
    }

    [Fact]
    public void EmptyFileIsRejected()
    {
        var dir = TestData.TempDir("cifar-empty");
        File.WriteAllBytes(Path.Combine(dir, "data_batch_1.bin"), Array.Empty<byte>());
        var e = Assert.Throws<TailorException>(() => Datasets.Open($"cifar10:{dir}"));
        Assert.Contains("empty file", e.Message);
    }
}

public class IdxTests
{
    [SkippableFact]
    public void FashionMnistIsFoundAndValid()
    {
        Skip.IfNot(File.Exists(Path.Combine(TestData.FashionMnist, "train-images-idx3-ubyte.gz")), $"missing {TestData.FashionMnist} (Debian package dataset-fashion-mnist)");
        var src = Datasets.Open("fashion-mnist");
        Assert.Equal(TestData.FashionMnist, src.Directory);
        Assert.Equal((60000, 1, 28, 28), (src.Train.Count, src.Train.Channels, src.Train.Height, src.Train.Width));
        Assert.Equal(10000, src.Test!.Count);
        Assert.All(src.Train.ClassCounts(), c => Assert.Equal(6000, c));
        Assert.Equal(Augmentation.None, src.DefaultAugmentation);
        Assert.Equal("Ankle boot", src.Train.ClassNames[9]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RoundTripsGzipAndRaw(bool gzip)
    {
        var dir = TestData.WriteIdxDir(TestData.TempDir("idx"), 30, 10, gzip);
        var src = Datasets.Open($"idx:{dir}");
        var expect = TestData.Synthetic(30, 1, 12, 12, 1);
        Assert.Equal(expect.Pixels, src.Train.Pixels);
        Assert.Equal(expect.Labels, src.Train.Labels);
        Assert.Equal(10, src.Test!.Count);
        Assert.Equal("idx", Datasets.Open(dir).Kind); // detected from a plain directory
    }

    [Fact]
    public void TrailingBytesAreRejected()
    {
        var dir = TestData.WriteIdxDir(TestData.TempDir("idx-trail"), 20, 10, gzip: false);
        string p = Path.Combine(dir, "train-images-idx3-ubyte");
        using (var f = new FileStream(p, FileMode.Append)) f.Write(new byte[5]);
        var e = Assert.Throws<TailorException>(() => Datasets.Open($"idx:{dir}"));
        Assert.Contains(p, e.Message);
        Assert.Contains("5 trailing bytes", e.Message);
    }

    [Fact]
    public void TruncatedRawFileIsRejectedNamingTheFile()
    {
        var dir = TestData.WriteIdxDir(TestData.TempDir("idx-trunc"), 20, 10, gzip: false);
        string p = Path.Combine(dir, "train-images-idx3-ubyte");
        var bytes = File.ReadAllBytes(p);
        File.WriteAllBytes(p, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<TailorException>(() => Datasets.Open($"idx:{dir}"));
        Assert.StartsWith(p + ": truncated", e.Message);
        Assert.Contains($"needs {bytes.Length} bytes, the file has {bytes.Length - 100}", e.Message);
    }

    [Fact]
    public void TruncatedGzipFileIsRejectedNamingTheFile()
    {
        var dir = TestData.WriteIdxDir(TestData.TempDir("idx-truncgz"), 200, 10, gzip: true);
        string p = Path.Combine(dir, "train-images-idx3-ubyte.gz");
        var bytes = File.ReadAllBytes(p);
        File.WriteAllBytes(p, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<TailorException>(() => Datasets.Open($"idx:{dir}"));
        Assert.StartsWith(p + ":", e.Message);
        Assert.True(e.Message.Contains("truncated") || e.Message.Contains("corrupt gzip"), e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void CompleteGzipStreamWithTooLittleDataIsTruncated()
    {
        var dir = TestData.WriteIdxDir(TestData.TempDir("idx-shortgz"), 20, 10, gzip: true);
        string p = Path.Combine(dir, "train-images-idx3-ubyte.gz");
        byte[] raw;
        using (var gz = new GZipStream(File.OpenRead(p), CompressionMode.Decompress)) { var ms = new MemoryStream(); gz.CopyTo(ms); raw = ms.ToArray(); }
        using (var fs = File.Create(p))
        using (var gz = new GZipStream(fs, CompressionLevel.Fastest)) gz.Write(raw, 0, raw.Length - 50);
        var e = Assert.Throws<TailorException>(() => Datasets.Open($"idx:{dir}"));
        Assert.StartsWith(p + ": truncated", e.Message);
        Assert.Contains("(after gunzip)", e.Message);
    }

    [Fact]
    public void WrongMagicIsRejected()
    {
        var dir = TestData.WriteIdxDir(TestData.TempDir("idx-magic"), 20, 10, gzip: false);
        string p = Path.Combine(dir, "train-labels-idx1-ubyte");
        var bytes = File.ReadAllBytes(p);
        bytes[0] = 0x89; bytes[1] = (byte)'P'; // a PNG, say
        File.WriteAllBytes(p, bytes);
        var e = Assert.Throws<TailorException>(() => Datasets.Open($"idx:{dir}"));
        Assert.Contains(p, e.Message);
        Assert.Contains("not an IDX file", e.Message);
    }

    [Fact]
    public void LabelsFileInPlaceOfImagesIsRejected()
    {
        var dir = TestData.WriteIdxDir(TestData.TempDir("idx-dims"), 20, 10, gzip: false);
        File.Copy(Path.Combine(dir, "train-labels-idx1-ubyte"), Path.Combine(dir, "train-images-idx3-ubyte"), overwrite: true);
        var e = Assert.Throws<TailorException>(() => Datasets.Open($"idx:{dir}"));
        Assert.Contains("has 1 dimensions, expected 3", e.Message);
    }

    [Fact]
    public void CountMismatchAndBadLabelAreRejected()
    {
        var dir = TestData.WriteIdxDir(TestData.TempDir("idx-count"), 20, 10, gzip: false);
        Idx.Write(Path.Combine(dir, "train-labels-idx1-ubyte"), new[] { 19 }, new byte[19]);
        var e = Assert.Throws<TailorException>(() => Datasets.Open($"idx:{dir}"));
        Assert.Contains("19 labels but", e.Message);
        var labels = new byte[20]; labels[7] = 10;
        Idx.Write(Path.Combine(dir, "train-labels-idx1-ubyte"), new[] { 20 }, labels);
        e = Assert.Throws<TailorException>(() => Datasets.Open($"idx:{dir}"));
        Assert.Contains("label 7 is 10", e.Message);
    }

    [Fact]
    public void MissingDataIsOneClearLine()
    {
        var dir = TestData.TempDir("idx-none");
        Assert.Contains("train-images-idx3-ubyte[.gz] not found", Assert.Throws<TailorException>(() => Datasets.Open($"idx:{dir}")).Message);
        Assert.Contains("dataset directory not found", Assert.Throws<TailorException>(() => Datasets.Open($"idx:{dir}/nope")).Message);
        Assert.Contains("not a dataset name", Assert.Throws<TailorException>(() => Datasets.Open("imagenet")).Message);
    }

    [Fact]
    public void TailorDataPointsToFashionMnist()
    {
        var root = TestData.TempDir("env");
        TestData.WriteIdxDir(Path.Combine(root, "fashion-mnist"), 20, 10);
        var old = Environment.GetEnvironmentVariable(Datasets.EnvVar);
        try
        {
            Environment.SetEnvironmentVariable(Datasets.EnvVar, root);
            Assert.Equal(Path.Combine(root, "fashion-mnist"), Datasets.FindFashionMnist());
            Assert.Equal(20, Datasets.Open("fashion-mnist").Train.Count);
        }
        finally { Environment.SetEnvironmentVariable(Datasets.EnvVar, old); }
    }
}

public class SplitTests
{
    [Fact]
    public void ValSplitParsesFractionsAndCounts()
    {
        Assert.Equal(1000, ValSplit.Parse("0.1").CountFor(10000));
        Assert.Equal(500, ValSplit.Parse("500").CountFor(10000));
        Assert.Equal(0, ValSplit.Parse("0").CountFor(10000));
        Assert.Throws<TailorException>(() => ValSplit.Parse("1.5"));
        Assert.Throws<TailorException>(() => ValSplit.Parse("-3"));
        Assert.Throws<TailorException>(() => ValSplit.Parse("100").CountFor(100));
    }

    [Fact]
    public void SplitIsStratifiedDisjointAndDeterministic()
    {
        var d = TestData.Synthetic(1000);
        var (tr, va) = Splits.TrainVal(d, ValSplit.Parse("0.2"), 7);
        Assert.Equal(800, tr.Count);
        Assert.Equal(200, va!.Count);
        Assert.All(va.ClassCounts(), c => Assert.Equal(20, c));
        var (tr2, va2) = Splits.TrainVal(d, ValSplit.Parse("0.2"), 7);
        Assert.Equal(va.Pixels, va2!.Pixels);
        var (_, va3) = Splits.TrainVal(d, ValSplit.Parse("0.2"), 8);
        Assert.NotEqual(va.Pixels, va3!.Pixels);
        // disjoint and complete: picked + rest is a partition
        var (p, r) = Splits.Stratified(d.Labels, 10, 200, Rng.Derive(7, "val-split"));
        Assert.Equal(Enumerable.Range(0, 1000), p.Concat(r).Order());
    }

    [Fact]
    public void SubsetRoundsPerClassToTheExactCount()
    {
        var d = TestData.Synthetic(1000);
        var s = Splits.Subset(d, 137, 3);
        Assert.Equal(137, s.Count);
        Assert.All(s.ClassCounts(), c => Assert.InRange(c, 13, 14));
        Assert.Same(d, Splits.Subset(d, 5000, 3));
    }
}
