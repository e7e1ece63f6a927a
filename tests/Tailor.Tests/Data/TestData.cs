using Tailor.Data;
using Tailor.Util;

namespace Tailor.Tests.Data;

/// <summary>Paths of the shared real data, temp folders and small synthetic datasets for tests.</summary>
public static class TestData
{
    /// <summary>The repository root (the folder with Tailor.slnx).</summary>
    public static string Root { get; } = FindRoot();

    static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d != null && !File.Exists(Path.Combine(d.FullName, "Tailor.slnx"))) d = d.Parent;
        return d?.FullName ?? Directory.GetCurrentDirectory();
    }

    /// <summary>../shared/data/cifar-10-subset relative to the project root.</summary>
    public static string CifarSubset => Path.GetFullPath(Path.Combine(Root, "..", "shared", "data", "cifar-10-subset"));

    public static string FashionMnist => Datasets.FashionMnistSystemDir;

    public static string TempDir(string prefix) => Directory.CreateTempSubdirectory("tailor-" + prefix + "-").FullName;

    /// <summary>A deterministic synthetic set whose classes are learnable (class-dependent brightness pattern).</summary>
    public static ImageDataset Synthetic(int n, int c = 1, int h = 12, int w = 12, int seed = 1, string name = "synthetic")
    {
        var rng = new Rng(seed);
        var px = new byte[n * c * h * w];
        var lb = new byte[n];
        for (int i = 0; i < n; i++)
        {
            int label = i % 10;
            lb[i] = (byte)label;
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        int v = ((x + y * label) % 10 == 0 ? 200 : 40) + rng.Next(40);
                        px[((i * c + ch) * h + y) * w + x] = (byte)v;
                    }
        }
        return new ImageDataset(name, px, lb, c, h, w);
    }

    /// <summary>Writes an IDX directory (train-*, t10k-*; gzip or raw) holding synthetic images.</summary>
    public static string WriteIdxDir(string dir, int train = 256, int test = 64, bool gzip = true, int size = 12)
    {
        Directory.CreateDirectory(dir);
        string ext = gzip ? ".gz" : "";
        foreach (var (split, n, seed) in new[] { ("train", train, 1), ("t10k", test, 2) })
        {
            var d = Synthetic(n, 1, size, size, seed);
            Idx.Write(Path.Combine(dir, $"{split}-images-idx3-ubyte{ext}"), new[] { n, size, size }, d.Pixels);
            Idx.Write(Path.Combine(dir, $"{split}-labels-idx1-ubyte{ext}"), new[] { n }, d.Labels);
        }
        return dir;
    }
}
