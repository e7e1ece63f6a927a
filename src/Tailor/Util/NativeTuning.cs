using System.Runtime.InteropServices;

namespace Tailor.Util;

/// <summary>
/// Process-wide native settings. glibc's malloc mmaps and unmaps every large activation afresh
/// each step (1.5x slower training, up to 10x slower large-batch eval: see
/// ../shared/docs/torchsharp-on-debian12.md); these mallopt settings remove that without
/// changing results. Call once at start-up, before the first tensor.
/// </summary>
public static partial class NativeTuning
{
    const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_MAX = -4;
    static bool _done;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int param, int value);

    public static void TuneMalloc()
    {
        if (_done || !OperatingSystem.IsLinux()) return;
        _done = true;
        try
        {
            MallOpt(M_MMAP_MAX, 0);
            MallOpt(M_TRIM_THRESHOLD, 1 << 30);
            MallOpt(M_TOP_PAD, 256 << 20);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { /* not glibc: nothing to tune */ }
    }
}
