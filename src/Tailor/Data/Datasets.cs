namespace Tailor.Data;

/// <summary>Standard augmentation policies.</summary>
public enum Augmentation
{
    /// <summary>None: the images as they are.</summary>
    None,
    /// <summary>Random crop with 4-pixel zero padding, then random horizontal flip (the standard CIFAR policy).</summary>
    CropFlip,
}

/// <summary>A resolved dataset: its training and test files loaded, and its defaults.</summary>
public sealed record DataSource(string Spec, string Kind, string Directory, ImageDataset Train, ImageDataset? Test, Augmentation DefaultAugmentation)
{
    public Arch.InputShape Shape => Train.Shape;
    public int Classes => Train.Classes;
}

/// <summary>
/// Dataset specs: "fashion-mnist" (found at $TAILOR_DATA or /usr/share/datasets/fashion-mnist),
/// "fashion-mnist:DIR", "idx:DIR" (any MNIST-family IDX set), "cifar10" (found at $TAILOR_DATA),
/// "cifar10:DIR", or a plain directory (its format is detected).
/// </summary>
public static class Datasets
{
    public const string FashionMnistSystemDir = "/usr/share/datasets/fashion-mnist";
    public const string EnvVar = "TAILOR_DATA";

    public static readonly string[] FashionMnistClassNames =
        { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

    public const string SpecHelp = "fashion-mnist | fashion-mnist:DIR | idx:DIR | cifar10 | cifar10:DIR | DIR";

    /// <summary>Resolves and loads a dataset spec; every problem is a <see cref="TailorException"/> naming the file.</summary>
    public static DataSource Open(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new TailorException($"--data: empty; expected {SpecHelp}");
        string kind, arg;
        int colon = spec.IndexOf(':');
        if (colon > 0 && spec[..colon] is "fashion-mnist" or "idx" or "cifar10" or "mnist")
        { kind = spec[..colon]; arg = spec[(colon + 1)..]; }
        else if (spec is "fashion-mnist" or "cifar10") { kind = spec; arg = ""; }
        else if (Directory.Exists(spec)) { kind = DetectKind(spec); arg = spec; }
        else throw new TailorException($"--data '{spec}': not a dataset name or an existing directory; expected {SpecHelp}");

        if (arg.Length > 0 && !Directory.Exists(arg)) throw new TailorException($"{arg}: dataset directory not found");
        switch (kind)
        {
            case "fashion-mnist":
            {
                string dir = arg.Length > 0 ? arg : FindFashionMnist()
                    ?? throw new TailorException($"fashion-mnist: not found in {string.Join(", ", FashionMnistCandidates())}; install the Debian package dataset-fashion-mnist, set {EnvVar}, or pass --data idx:DIR");
                return OpenIdx(spec, "fashion-mnist", dir, FashionMnistClassNames);
            }
            case "idx":
            case "mnist":
                return OpenIdx(spec, kind == "mnist" ? "mnist" : "idx", arg, null);
            case "cifar10":
            {
                string dir = arg.Length > 0 ? arg : FindCifar10()
                    ?? throw new TailorException($"cifar10: no data_batch_*.bin found in {string.Join(", ", Cifar10Candidates())}; set {EnvVar} or pass --data cifar10:DIR");
                return OpenCifar(spec, dir);
            }
            default:
                throw new TailorException($"--data '{spec}': unknown dataset kind");
        }
    }

    static string DetectKind(string dir)
    {
        if (Directory.EnumerateFiles(dir, "data_batch_*.bin").Any()) return "cifar10";
        if (FindIdxFile(dir, "train", "images", 3) != null) return "idx";
        throw new TailorException($"{dir}: neither IDX files (train-images-idx3-ubyte[.gz]) nor CIFAR-10 binaries (data_batch_*.bin) found");
    }

    static IEnumerable<string> FashionMnistCandidates()
    {
        var env = Environment.GetEnvironmentVariable(EnvVar);
        if (!string.IsNullOrEmpty(env)) { yield return Path.Combine(env, "fashion-mnist"); yield return env; }
        yield return FashionMnistSystemDir;
    }

    static IEnumerable<string> Cifar10Candidates()
    {
        var env = Environment.GetEnvironmentVariable(EnvVar);
        if (string.IsNullOrEmpty(env)) { yield return $"${EnvVar} (not set)"; yield break; }
        foreach (var sub in new[] { "cifar-10-batches-bin", "cifar-10-subset", "cifar10" }) yield return Path.Combine(env, sub);
        yield return env;
    }

    /// <summary>The first directory holding Fashion-MNIST's training images, or null.</summary>
    public static string? FindFashionMnist() =>
        FashionMnistCandidates().FirstOrDefault(d => Directory.Exists(d) && FindIdxFile(d, "train", "images", 3) != null);

    public static string? FindCifar10() =>
        Cifar10Candidates().FirstOrDefault(d => Directory.Exists(d) && Directory.EnumerateFiles(d, "data_batch_*.bin").Any());

    /// <summary>Finds "{split}-{kind}-idx{n}-ubyte" (or "{split}-{kind}.idx{n}-ubyte"), raw or .gz.</summary>
    public static string? FindIdxFile(string dir, string split, string kind, int dims)
    {
        foreach (var stem in new[] { $"{split}-{kind}-idx{dims}-ubyte", $"{split}-{kind}.idx{dims}-ubyte" })
            foreach (var ext in new[] { "", ".gz" })
            {
                var p = Path.Combine(dir, stem + ext);
                if (File.Exists(p)) return p;
            }
        return null;
    }

    static DataSource OpenIdx(string spec, string kind, string dir, IReadOnlyList<string>? names)
    {
        string trainImg = FindIdxFile(dir, "train", "images", 3) ?? throw new TailorException($"{dir}: train-images-idx3-ubyte[.gz] not found");
        string trainLab = FindIdxFile(dir, "train", "labels", 1) ?? throw new TailorException($"{dir}: train-labels-idx1-ubyte[.gz] not found");
        var train = Idx.Load(trainImg, trainLab, $"{kind}/train", 10, names);
        ImageDataset? test = null;
        string? testImg = FindIdxFile(dir, "t10k", "images", 3), testLab = FindIdxFile(dir, "t10k", "labels", 1);
        if (testImg != null || testLab != null)
        {
            if (testImg == null || testLab == null)
                throw new TailorException($"{dir}: t10k images and labels must come together ({(testImg == null ? "t10k-images-idx3-ubyte" : "t10k-labels-idx1-ubyte")}[.gz] missing)");
            test = Idx.Load(testImg, testLab, $"{kind}/test", 10, names);
            if (test.Height != train.Height || test.Width != train.Width)
                throw new TailorException($"{testImg}: images are {test.Height}x{test.Width} but the training images are {train.Height}x{train.Width}");
        }
        return new DataSource(spec, kind, Path.GetFullPath(dir), train, test, Augmentation.None);
    }

    static DataSource OpenCifar(string spec, string dir)
    {
        var trainFiles = Directory.EnumerateFiles(dir, "data_batch_*.bin")
            .OrderBy(f => int.TryParse(Path.GetFileNameWithoutExtension(f)["data_batch_".Length..], out int k) ? k : int.MaxValue)
            .ThenBy(f => f, StringComparer.Ordinal).ToList();
        if (trainFiles.Count == 0) throw new TailorException($"{dir}: no data_batch_*.bin found");
        IReadOnlyList<string>? names = null;
        var meta = Path.Combine(dir, "batches.meta.txt");
        if (File.Exists(meta))
        {
            var lines = File.ReadAllLines(meta).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
            if (lines.Length == 10) names = lines;
        }
        var train = Cifar10.Load(trainFiles, "cifar10/train", names);
        var testPath = Path.Combine(dir, "test_batch.bin");
        var test = File.Exists(testPath) ? Cifar10.Load(new[] { testPath }, "cifar10/test", names) : null;
        return new DataSource(spec, "cifar10", Path.GetFullPath(dir), train, test, Augmentation.CropFlip);
    }
}
