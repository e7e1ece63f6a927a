using System.Runtime.InteropServices;

namespace Tailor.Hardware.Predictors;

/// <summary>
/// libtorch's CPU kernels call Intel MKL, which by default may choose a code path by the memory alignment of
/// the operands: two fits of the same MLP in one process then differ by float rounding, and early stopping
/// can amplify that (a different best step: predictions ~0.2% apart). MKL's conditional numerical
/// reproducibility mode (CBWR "AUTO": one code path per processor) makes refits bit-identical. MKL accepts
/// the mode only before its first call in the process, so <c>tailor latency fit</c> turns it on at start;
/// later calls are refused (and leave everything as it was).
/// </summary>
public static partial class MklReproducibility
{
    [LibraryImport("libtorch_cpu", EntryPoint = "mkl_serv_cbwr_set")]
    private static partial int CbwrSet(int mode);

    const int MKL_CBWR_AUTO = 2;

    /// <summary>
    /// Turns on MKL's CBWR AUTO mode unless the user set MKL_CBWR (then MKL follows that). Call after libtorch
    /// is loaded (any <c>torch</c> call) and before any computation; returns whether the mode took effect.
    /// </summary>
    public static bool TryEnable()
    {
        if (Environment.GetEnvironmentVariable("MKL_CBWR") != null) return false;
        try { return CbwrSet(MKL_CBWR_AUTO) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }
}
