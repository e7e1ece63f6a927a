// MSBuild task: make libLibTorchSharp.so load on systems whose libstdc++ lacks GLIBCXX_3.4.32.
// See ../shared/docs/torchsharp-on-debian12.md. The only symbol that needs that version is a
// link-time marker nobody calls, so marking the version requirement weak (VER_FLG_WEAK) is enough.
// Compiled by RoslynCodeTaskFactory (Type="Class") against netstandard2.0; keep it self-contained.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class GlibcxxWeakFix : Microsoft.Build.Utilities.Task
{
    [Required] public string LibraryPath { get; set; } = "";
    public string VersionName { get; set; } = "GLIBCXX_3.4.32";
    /// <summary>Folders searched for the system libstdc++.so.6 (';'-separated).</summary>
    public string SystemLibDirs { get; set; } = "/lib/x86_64-linux-gnu;/usr/lib/x86_64-linux-gnu;/lib64;/usr/lib64;/lib;/usr/lib";

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    public override bool Execute()
    {
        if (!File.Exists(LibraryPath)) return true; // nothing copied (e.g. non-Linux RID): nothing to do
        if (SystemHasVersion())
        {
            Log.LogMessage(MessageImportance.Low, $"GlibcxxWeakFix: system libstdc++ has {VersionName}; no change");
            return true;
        }
        try
        {
            byte[] elf = File.ReadAllBytes(LibraryPath);
            switch (Patch(elf, VersionName))
            {
                case PatchResult.AlreadyWeak:
                    Log.LogMessage(MessageImportance.Low, $"GlibcxxWeakFix: {LibraryPath} already patched");
                    return true;
                case PatchResult.NotNeeded:
                    Log.LogMessage(MessageImportance.Low, $"GlibcxxWeakFix: {LibraryPath} does not require {VersionName}");
                    return true;
            }
            // Write beside and rename: never modify a file in place (it may be a hard link into the NuGet cache).
            string tmp = LibraryPath + ".tmp-weakfix";
            File.WriteAllBytes(tmp, elf);
            File.Delete(LibraryPath);
            File.Move(tmp, LibraryPath);
            Log.LogMessage(MessageImportance.Normal, $"GlibcxxWeakFix: marked {VersionName} weak in {LibraryPath}");
            return true;
        }
        catch (Exception ex)
        {
            Log.LogError($"GlibcxxWeakFix: {LibraryPath}: {ex.Message}");
            return false;
        }
    }

    bool SystemHasVersion()
    {
        byte[] needle = Encoding.ASCII.GetBytes(VersionName + "\0");
        foreach (string dir in SystemLibDirs.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
        {
            string p = Path.Combine(dir, "libstdc++.so.6");
            if (!File.Exists(p)) continue;
            byte[] lib = File.ReadAllBytes(p);
            return IndexOf(lib, needle) >= 0;
        }
        return false; // no system libstdc++ found: patching is harmless
    }

    static int IndexOf(byte[] hay, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    public enum PatchResult { Patched, AlreadyWeak, NotNeeded }

    /// <summary>Sets VER_FLG_WEAK on the Vernaux entry named <paramref name="version"/> (ELF64 little-endian).</summary>
    public static PatchResult Patch(byte[] elf, string version)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only ELF64 little-endian is supported");
        ulong shoff = U64(elf, 0x28);
        ushort shentsize = U16(elf, 0x3A);
        ushort shnum = U16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = (long)shoff + (long)s * shentsize;
            if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
            long off = (long)U64(elf, sh + 0x18);
            uint link = U32(elf, sh + 0x28);
            uint info = U32(elf, sh + 0x2C); // number of Verneed entries
            long strSh = (long)shoff + (long)link * shentsize;
            long strOff = (long)U64(elf, strSh + 0x18);
            long vn = off;
            for (uint i = 0; i < info; i++)
            {
                ushort cnt = U16(elf, vn + 2);
                long aux = vn + U32(elf, vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    uint name = U32(elf, aux + 8);
                    if (CString(elf, strOff + name) == version)
                    {
                        ushort flags = U16(elf, aux + 4);
                        if ((flags & VerFlgWeak) != 0) return PatchResult.AlreadyWeak;
                        flags |= VerFlgWeak;
                        elf[aux + 4] = (byte)flags;
                        elf[aux + 5] = (byte)(flags >> 8);
                        return PatchResult.Patched;
                    }
                    uint next = U32(elf, aux + 12);
                    if (next == 0) break;
                    aux += next;
                }
                uint vnNext = U32(elf, vn + 12);
                if (vnNext == 0) break;
                vn += vnNext;
            }
        }
        return PatchResult.NotNeeded;
    }

    static ushort U16(byte[] b, long o) => (ushort)(b[o] | b[o + 1] << 8);
    static uint U32(byte[] b, long o) => (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24);
    static ulong U64(byte[] b, long o) => U32(b, o) | (ulong)U32(b, o + 4) << 32;
    static string CString(byte[] b, long o)
    {
        long e = o;
        while (e < b.Length && b[e] != 0) e++;
        return Encoding.ASCII.GetString(b, (int)o, (int)(e - o));
    }
}
