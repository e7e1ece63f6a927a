namespace Tailor.Data;

/// <summary>
/// CIFAR-10 binary files: any whole number of 3,073-byte records (1 label byte 0..9, then 1,024
/// red, 1,024 green, 1,024 blue bytes, each channel row-major 32x32).
/// </summary>
public static class Cifar10
{
    public const int RecordSize = 3073;
    public const int ImageSize = 3072;

    public static readonly string[] DefaultClassNames =
        { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };

    /// <summary>Reads and concatenates CIFAR-10 binary files.</summary>
    public static ImageDataset Load(IReadOnlyList<string> paths, string name, IReadOnlyList<string>? classNames = null)
    {
        if (paths.Count == 0) throw new TailorException($"{name}: no CIFAR-10 files given");
        var sizes = new long[paths.Count];
        long total = 0;
        for (int f = 0; f < paths.Count; f++)
        {
            var p = paths[f];
            if (!File.Exists(p)) throw new TailorException($"{p}: file not found");
            long len = new FileInfo(p).Length;
            if (len == 0) throw new TailorException($"{p}: empty file (expected whole 3,073-byte CIFAR-10 records)");
            if (len % RecordSize != 0)
                throw new TailorException($"{p}: size {len:N0} bytes is not a whole number of 3,073-byte CIFAR-10 records ({len / RecordSize} records and {len % RecordSize} bytes left over: truncated or not a CIFAR-10 binary file)");
            sizes[f] = len / RecordSize;
            total += sizes[f];
        }
        if (total * ImageSize > int.MaxValue) throw new TailorException($"{name}: {total} images are too many to hold in memory");
        var px = new byte[total * ImageSize];
        var lb = new byte[total];
        long n = 0;
        var rec = new byte[RecordSize];
        for (int f = 0; f < paths.Count; f++)
        {
            try
            {
                using var fs = new FileStream(paths[f], FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                for (long i = 0; i < sizes[f]; i++, n++)
                {
                    fs.ReadExactly(rec);
                    if (rec[0] > 9)
                        throw new TailorException($"{paths[f]}: record {i} has label {rec[0]} (expected 0..9: not a CIFAR-10 binary file, or CIFAR-100)");
                    lb[n] = rec[0];
                    Buffer.BlockCopy(rec, 1, px, (int)(n * ImageSize), ImageSize);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new TailorException($"{paths[f]}: cannot read ({e.Message.Split('\n')[0].Trim()})");
            }
        }
        return new ImageDataset(name, px, lb, 3, 32, 32, 10, classNames ?? DefaultClassNames);
    }

    /// <summary>Writes records in the CIFAR-10 binary format. For tests and tools.</summary>
    public static void Write(string path, ImageDataset d)
    {
        if (d.Channels != 3 || d.Height != 32 || d.Width != 32) throw new ArgumentException("CIFAR-10 records are 3x32x32");
        Util.AtomicFile.Write(path, s =>
        {
            for (int i = 0; i < d.Count; i++)
            {
                s.WriteByte(d.Labels[i]);
                s.Write(d.Pixels, i * ImageSize, ImageSize);
            }
        });
    }
}
