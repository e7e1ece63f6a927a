using System.IO.Compression;

namespace Tailor.Data;

/// <summary>
/// IDX files (the MNIST family: MNIST, Fashion-MNIST, KMNIST, ...), gzip-compressed or raw; the
/// compression is recognised from the content, not the name. Magic number, dimensions and size
/// are validated: a truncated or foreign file gives one line naming the file and the problem.
/// </summary>
public static class Idx
{
    /// <summary>The dimensions and element data of one IDX file of unsigned bytes.</summary>
    public sealed record IdxArray(int[] Dims, byte[] Data);

    /// <summary>Reads an IDX file of unsigned bytes (type 0x08) with <paramref name="expectedDims"/> dimensions.</summary>
    public static IdxArray Read(string path, int expectedDims)
    {
        if (!File.Exists(path)) throw new TailorException($"{path}: file not found");
        try
        {
            using var fs = File.OpenRead(path);
            bool gz = IsGzip(fs);
            using Stream s = gz ? new GZipStream(fs, CompressionMode.Decompress) : fs;
            return Parse(s, path, expectedDims, gz ? null : fs.Length);
        }
        catch (TailorException) { throw; }
        catch (InvalidDataException e) { throw new TailorException($"{path}: corrupt gzip data ({e.Message.Split('\n')[0].Trim()})"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new TailorException($"{path}: cannot read ({e.Message.Split('\n')[0].Trim()})"); }
    }

    static bool IsGzip(FileStream fs)
    {
        Span<byte> head = stackalloc byte[2];
        int n = fs.Read(head);
        fs.Position = 0;
        return n == 2 && head[0] == 0x1f && head[1] == 0x8b;
    }

    static IdxArray Parse(Stream s, string path, int expectedDims, long? rawLength)
    {
        string what = rawLength == null ? " (after gunzip)" : "";
        var head = new byte[4];
        int got = ReadFully(s, head);
        if (got < 4) throw new TailorException($"{path}: truncated: {got} bytes{what}, too short for an IDX header");
        if (head[0] != 0 || head[1] != 0)
            throw new TailorException($"{path}: not an IDX file (magic 0x{head[0]:x2}{head[1]:x2}{head[2]:x2}{head[3]:x2}; an IDX file starts with two zero bytes)");
        if (head[2] != 0x08)
            throw new TailorException($"{path}: IDX element type 0x{head[2]:x2} is not supported (expected 0x08, unsigned bytes)");
        int nd = head[3];
        if (nd != expectedDims)
            throw new TailorException($"{path}: IDX file has {nd} dimensions, expected {expectedDims} ({(expectedDims == 3 ? "images: count x rows x columns, magic 0x00000803" : "labels: count, magic 0x00000801")})");
        var dimBytes = new byte[4 * nd];
        got = ReadFully(s, dimBytes);
        if (got < dimBytes.Length) throw new TailorException($"{path}: truncated: the header ends after {4 + got} bytes{what}");
        var dims = new int[nd];
        long size = 1;
        for (int i = 0; i < nd; i++)
        {
            uint d = (uint)(dimBytes[4 * i] << 24 | dimBytes[4 * i + 1] << 16 | dimBytes[4 * i + 2] << 8 | dimBytes[4 * i + 3]);
            if (d == 0 || d > int.MaxValue) throw new TailorException($"{path}: IDX dimension {i} is {d}, expected a positive size");
            dims[i] = (int)d;
            size *= d;
        }
        if (size > int.MaxValue / 2) throw new TailorException($"{path}: IDX data of {size} bytes is too large");
        long headerLen = 4 + 4L * nd;
        if (rawLength is long len && len != headerLen + size)
        {
            if (len < headerLen + size)
                throw new TailorException($"{path}: truncated: the header ({string.Join("x", dims)}) needs {headerLen + size} bytes, the file has {len}");
            throw new TailorException($"{path}: {len - headerLen - size} trailing bytes after the {string.Join("x", dims)} data (expected {headerLen + size} bytes)");
        }
        var data = new byte[size];
        got = ReadFully(s, data);
        if (got < size)
            throw new TailorException($"{path}: truncated: the header ({string.Join("x", dims)}) needs {size} data bytes, the file has {got}{what}");
        if (rawLength == null)
        {
            var extra = new byte[1];
            if (s.Read(extra, 0, 1) > 0)
                throw new TailorException($"{path}: trailing bytes after the {string.Join("x", dims)} data{what}");
        }
        return new IdxArray(dims, data);
    }

    static int ReadFully(Stream s, byte[] buf)
    {
        int off = 0;
        while (off < buf.Length)
        {
            int n = s.Read(buf, off, buf.Length - off);
            if (n <= 0) break;
            off += n;
        }
        return off;
    }

    /// <summary>Reads an images file (N x H x W) and its labels file (N), checking they agree.</summary>
    public static ImageDataset Load(string imagesPath, string labelsPath, string name, int classes = 10, IReadOnlyList<string>? classNames = null)
    {
        var img = Read(imagesPath, 3);
        var lab = Read(labelsPath, 1);
        if (img.Dims[0] != lab.Dims[0])
            throw new TailorException($"{labelsPath}: {lab.Dims[0]} labels but {imagesPath} has {img.Dims[0]} images");
        for (int i = 0; i < lab.Data.Length; i++)
            if (lab.Data[i] >= classes)
                throw new TailorException($"{labelsPath}: label {i} is {lab.Data[i]} (expected 0..{classes - 1})");
        return new ImageDataset(name, img.Data, lab.Data, 1, img.Dims[1], img.Dims[2], classes, classNames);
    }

    /// <summary>Writes an IDX file of unsigned bytes (raw, or gzip when the name ends in .gz). For tests and tools.</summary>
    public static void Write(string path, int[] dims, ReadOnlySpan<byte> data)
    {
        var copy = data.ToArray();
        Util.AtomicFile.Write(path, fs =>
        {
            Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(fs, CompressionLevel.Fastest, leaveOpen: true) : fs;
            s.Write(new byte[] { 0, 0, 0x08, (byte)dims.Length });
            foreach (int d in dims) s.Write(new[] { (byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d });
            s.Write(copy);
            if (s != fs) s.Dispose();
        });
    }
}
