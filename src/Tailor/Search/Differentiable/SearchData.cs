using System.IO.Compression;
using Tailor.Arch;
using static TorchSharp.torch;

namespace Tailor.Search.Differentiable;

/// <summary>
/// Images for a cell search, in memory: N x C x H x W bytes and labels. A minimal reader of CIFAR-10
/// binaries and IDX files (the data issue's <c>Tailor.Data</c> loaders replace it when merged).
/// Specs: "cifar10" (the shared CIFAR-10 subset, ../shared/data/cifar-10-subset or $TAILOR_DATA),
/// "cifar10:DIR" (data_batch_*.bin), "idx:DIR" or "fashion-mnist[:DIR]" (train-images-idx3-ubyte[.gz]).
/// </summary>
public sealed class SearchImages
{
    public string Name { get; }
    public byte[] Pixels { get; }
    public byte[] Labels { get; }
    public InputShape Shape { get; }
    public int Classes { get; }
    public int Count => Labels.Length;

    public SearchImages(string name, byte[] pixels, byte[] labels, InputShape shape, int classes)
    {
        if (pixels.LongLength != (long)labels.Length * shape.Channels * shape.Height * shape.Width)
            throw new ArgumentException($"{name}: {pixels.LongLength} pixel bytes do not hold {labels.Length} images of {shape}");
        Name = name; Pixels = pixels; Labels = labels; Shape = shape; Classes = classes;
    }

    public const string SpecHelp = "cifar10 | cifar10:DIR | idx:DIR | fashion-mnist[:DIR]";

    public static SearchImages Open(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new TailorException($"--data: empty; expected {SpecHelp}");
        int colon = spec.IndexOf(':');
        string kind = colon > 0 ? spec[..colon] : spec, arg = colon > 0 ? spec[(colon + 1)..] : "";
        switch (kind)
        {
            case "cifar10":
            {
                string dir = arg.Length > 0 ? arg : FindCifar() ?? throw new TailorException(
                    "cifar10: the CIFAR-10 subset was not found (../shared/data/cifar-10-subset next to the repository, or $TAILOR_DATA/cifar-10-subset); pass --data cifar10:DIR");
                return ReadCifarDir(dir);
            }
            case "idx":
            case "fashion-mnist":
            {
                string dir = arg.Length > 0 ? arg : kind == "fashion-mnist" ? "/usr/share/datasets/fashion-mnist" : throw new TailorException("idx: needs a directory (idx:DIR)");
                return ReadIdxDir(dir, kind);
            }
            default:
                if (Directory.Exists(spec))
                {
                    if (Directory.EnumerateFiles(spec, "data_batch_*.bin").Any()) return ReadCifarDir(spec);
                    return ReadIdxDir(spec, "idx");
                }
                throw new TailorException($"--data '{spec}': not a dataset name or an existing directory; expected {SpecHelp}");
        }
    }

    public static string? FindCifar()
    {
        var env = Environment.GetEnvironmentVariable("TAILOR_DATA");
        var cands = new List<string>();
        if (!string.IsNullOrEmpty(env)) { cands.Add(Path.Combine(env, "cifar-10-subset")); cands.Add(env); }
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(Path.GetFullPath(start)); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Tailor.slnx")))
                {
                    cands.Add(Path.Combine(d.FullName, "..", "shared", "data", "cifar-10-subset"));
                    break;
                }
        return cands.FirstOrDefault(c => Directory.Exists(c) && Directory.EnumerateFiles(c, "data_batch_*.bin").Any());
    }

    public static SearchImages ReadCifarDir(string dir)
    {
        if (!Directory.Exists(dir)) throw new TailorException($"{dir}: dataset directory not found");
        var files = Directory.EnumerateFiles(dir, "data_batch_*.bin").OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new TailorException($"{dir}: no data_batch_*.bin (CIFAR-10 binary) files");
        const int rec = 3073;
        var px = new List<byte[]>(); var lb = new List<byte>();
        foreach (var f in files)
        {
            var bytes = File.ReadAllBytes(f);
            if (bytes.Length == 0 || bytes.Length % rec != 0)
                throw new TailorException($"{f}: {bytes.Length} bytes is not a whole number of CIFAR-10 records ({rec} bytes each)");
            int n = bytes.Length / rec;
            var p = new byte[n * 3072];
            for (int i = 0; i < n; i++)
            {
                byte l = bytes[i * rec];
                if (l > 9) throw new TailorException($"{f}: record {i} has label {l} (expected 0..9)");
                lb.Add(l);
                Buffer.BlockCopy(bytes, i * rec + 1, p, i * 3072, 3072);
            }
            px.Add(p);
        }
        var all = px.SelectMany(x => x).ToArray();
        return new SearchImages($"cifar10:{dir}", all, lb.ToArray(), new InputShape(3, 32, 32), 10);
    }

    static string? FindIdx(string dir, string split, string kind, int dims)
    {
        foreach (var stem in new[] { $"{split}-{kind}-idx{dims}-ubyte", $"{split}-{kind}.idx{dims}-ubyte" })
            foreach (var ext in new[] { "", ".gz" })
                if (File.Exists(Path.Combine(dir, stem + ext))) return Path.Combine(dir, stem + ext);
        return null;
    }

    public static SearchImages ReadIdxDir(string dir, string kind)
    {
        if (!Directory.Exists(dir)) throw new TailorException($"{dir}: dataset directory not found");
        string img = FindIdx(dir, "train", "images", 3) ?? throw new TailorException($"{dir}: train-images-idx3-ubyte[.gz] not found");
        string lab = FindIdx(dir, "train", "labels", 1) ?? throw new TailorException($"{dir}: train-labels-idx1-ubyte[.gz] not found");
        var (idims, ipx) = ReadIdx(img);
        var (ldims, lpx) = ReadIdx(lab);
        if (idims.Length != 3 || ldims.Length != 1 || idims[0] != ldims[0])
            throw new TailorException($"{dir}: {img} ({string.Join("x", idims)}) and {lab} ({string.Join("x", ldims)}) do not match");
        int classes = Math.Max(10, lpx.Max() + 1);
        return new SearchImages($"{kind}:{dir}", ipx, lpx, new InputShape(1, idims[1], idims[2]), classes);
    }

    static (int[] Dims, byte[] Data) ReadIdx(string path)
    {
        byte[] raw;
        try
        {
            using var fs = File.OpenRead(path);
            using Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(fs, CompressionMode.Decompress) : fs;
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            raw = ms.ToArray();
        }
        catch (Exception e) when (e is IOException or InvalidDataException) { throw new TailorException($"{path}: cannot read ({e.Message})"); }
        if (raw.Length < 4 || raw[0] != 0 || raw[1] != 0 || raw[2] != 0x08) throw new TailorException($"{path}: not an unsigned-byte IDX file");
        int nd = raw[3];
        if (raw.Length < 4 + 4 * nd) throw new TailorException($"{path}: truncated header");
        var dims = new int[nd];
        long size = 1;
        for (int i = 0; i < nd; i++) { dims[i] = (raw[4 + 4 * i] << 24) | (raw[5 + 4 * i] << 16) | (raw[6 + 4 * i] << 8) | raw[7 + 4 * i]; size *= dims[i]; }
        if (raw.Length - 4 - 4 * nd != size) throw new TailorException($"{path}: {raw.Length - 4 - 4 * nd} data bytes, header says {size}");
        return (dims, raw.AsSpan(4 + 4 * nd).ToArray());
    }

    /// <summary>A copy of the images at the given indices.</summary>
    public SearchImages Subset(IReadOnlyList<int> idx, string name)
    {
        int s = Shape.Channels * Shape.Height * Shape.Width;
        var px = new byte[(long)idx.Count * s];
        var lb = new byte[idx.Count];
        for (int i = 0; i < idx.Count; i++) { Buffer.BlockCopy(Pixels, idx[i] * s, px, i * s, s); lb[i] = Labels[idx[i]]; }
        return new SearchImages(name, px, lb, Shape, Classes);
    }
}

/// <summary>
/// The search's two halves of the training images (DARTS: weights train on one, architecture
/// parameters on the other), as normalised float tensors, and seeded batching with the standard
/// CIFAR augmentation (random crop with 4-pixel zero padding, horizontal flip).
/// </summary>
public sealed class SearchSplit : IDisposable
{
    public Tensor TrainX { get; }
    public Tensor TrainY { get; }
    public Tensor ValX { get; }
    public Tensor ValY { get; }
    public InputShape Shape { get; }
    public int Classes { get; }
    public int TrainCount => (int)TrainY.shape[0];
    public int ValCount => (int)ValY.shape[0];

    /// <summary>Splits the first <paramref name="train"/> + <paramref name="val"/> images of a seeded permutation.</summary>
    public SearchSplit(SearchImages d, int train, int val, long seed)
    {
        if (train < 1 || val < 1) throw new TailorException($"search split: train ({train}) and validation ({val}) sizes must be positive");
        if (train + val > d.Count) throw new TailorException($"{d.Name}: {d.Count} images, the search split needs {train} + {val}");
        var perm = SearchRng.Permutation(d.Count, SearchRng.Mix(seed, 0x5EA7C4));
        Shape = d.Shape; Classes = d.Classes;
        (TrainX, TrainY) = ToTensors(d, perm.Take(train).ToArray());
        (ValX, ValY) = ToTensors(d, perm.Skip(train).Take(val).ToArray());
    }

    static (Tensor, Tensor) ToTensors(SearchImages d, int[] idx)
    {
        var sub = d.Subset(idx, d.Name);
        int c = d.Shape.Channels, h = d.Shape.Height, w = d.Shape.Width;
        var f = new float[sub.Pixels.Length];
        // CIFAR-10 mean/std for 3 channels; 0.5/0.5 otherwise
        double[] mean = c == 3 ? new[] { 0.4914, 0.4822, 0.4465 } : Enumerable.Repeat(0.5, c).ToArray();
        double[] std = c == 3 ? new[] { 0.2470, 0.2435, 0.2616 } : Enumerable.Repeat(0.5, c).ToArray();
        int plane = h * w;
        for (int i = 0; i < f.Length; i++)
        {
            int ch = i / plane % c;
            f[i] = (float)((sub.Pixels[i] / 255.0 - mean[ch]) / std[ch]);
        }
        var x = tensor(f, new long[] { idx.Length, c, h, w });
        var y = tensor(sub.Labels.Select(b => (long)b).ToArray());
        return (x, y);
    }

    /// <summary>Batch <paramref name="step"/> of an epoch's order, augmented with the given seed (crop + flip) when <paramref name="augment"/>.</summary>
    public (Tensor X, Tensor Y) Batch(bool val, int[] order, int step, int batch, bool augment, long augSeed)
    {
        var X = val ? ValX : TrainX; var Y = val ? ValY : TrainY;
        int n = order.Length;
        int start = step * batch % n;
        var idx = new long[Math.Min(batch, n)];
        for (int i = 0; i < idx.Length; i++) idx[i] = order[(start + i) % n];
        var it = tensor(idx);
        var x = X.index_select(0, it);
        var y = Y.index_select(0, it);
        if (augment) x = CropFlip(x, augSeed);
        return (x, y);
    }

    static Tensor CropFlip(Tensor x, long seed)
    {
        long n = x.shape[0], h = x.shape[2], w = x.shape[3];
        var rng = new SearchRng(seed);
        var padded = nn.functional.pad(x, new long[] { 4, 4, 4, 4 });
        var outs = new Tensor[n];
        for (int i = 0; i < n; i++)
        {
            int dy = rng.Next(9), dx = rng.Next(9);
            bool flip = rng.Next(2) == 1;
            var crop = padded[i, .., TensorIndex.Slice(dy, dy + h), TensorIndex.Slice(dx, dx + w)];
            outs[i] = flip ? crop.flip(2) : crop;
        }
        return stack(outs);
    }

    public void Dispose() { TrainX.Dispose(); TrainY.Dispose(); ValX.Dispose(); ValY.Dispose(); }
}

/// <summary>A small seeded RNG (splitmix64) whose whole state is one number; used for data order, augmentation and op orders.</summary>
public sealed class SearchRng
{
    ulong _s;
    public SearchRng(long seed) { _s = (ulong)seed; }
    public ulong NextU64()
    {
        ulong z = _s += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
    public int Next(int n) => (int)(NextU64() % (ulong)n);
    public long NextNonNeg() => (long)(NextU64() >> 1);
    public double NextDouble() => (NextU64() >> 11) * (1.0 / (1UL << 53));

    public static long Mix(long a, long b) => (long)new SearchRng(a * 0x632BE59BD9B4E019L + b).NextU64();
    public static long Mix(long a, long b, long c) => Mix(Mix(a, b), c);

    public static int[] Permutation(int n, long seed)
    {
        var rng = new SearchRng(seed);
        var p = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--) { int j = rng.Next(i + 1); (p[i], p[j]) = (p[j], p[i]); }
        return p;
    }
}
