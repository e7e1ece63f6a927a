namespace Tailor.Util;

/// <summary>Writes files so that a reader (or a killed run) never sees half a file: temp file in the same folder, then rename.</summary>
public static class AtomicFile
{
    // Not a StreamWriter: disposing it would close the temp stream before Write flushes it to disk (ObjectDisposedException).
    public static void WriteAllText(string path, string text) => Write(path, s => s.Write(new System.Text.UTF8Encoding(false).GetBytes(text)));

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    /// <summary>Calls <paramref name="write"/> on a temp file, flushes it to disk, then renames it over <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new TailorException($"{dir}: cannot create output directory ({e.Message})"); }
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(fs);
                fs.Flush(true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(tmp);
            throw new TailorException($"{full}: cannot write ({e.Message})");
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    static void TryDelete(string p) { try { File.Delete(p); } catch { /* best effort */ } }
}
