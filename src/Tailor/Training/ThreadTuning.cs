using System.Runtime.InteropServices;

namespace Tailor.Training;

/// <summary>
/// OpenMP settings for libtorch's CPU threads. libgomp's default lets a waiting thread spin for a
/// long while at every barrier before it sleeps; a training step has thousands of parallel regions,
/// and when other processes compete for the cores (a shared machine, a build next door) the spinning
/// threads burn the time slices the working thread needs: on this project's 2-core machines a
/// MobileNetV2 step at 2 threads went from about 0.5 s to 3-10 s, for Tailor and PyTorch alike
/// (bench/README.md). <see cref="PreferPassiveWait"/> sets OMP_WAIT_POLICY=PASSIVE unless the user
/// chose a policy or a spin count, which makes waiting threads sleep at once.
/// </summary>
public static partial class ThreadTuning
{
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    /// <summary>
    /// Sets OMP_WAIT_POLICY=PASSIVE in the process environment unless OMP_WAIT_POLICY or GOMP_SPINCOUNT
    /// is set. Takes effect only if called before libtorch is loaded (before the first use of
    /// <c>torch</c>); returns whether it set the variable.
    /// </summary>
    public static bool PreferPassiveWait()
    {
        if (!OperatingSystem.IsLinux()) return false;
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") != null || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") != null)
            return false;
        try
        {
            if (SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0) != 0) return false;
            Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    /// <summary>The OpenMP wait policy in effect for this process ("PASSIVE", "ACTIVE", or "default (spin ...)").</summary>
    public static string Describe() =>
        Environment.GetEnvironmentVariable("OMP_WAIT_POLICY")
        ?? (Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is string sc ? $"default (GOMP_SPINCOUNT={sc})" : "default");
}
