using System.Diagnostics;

namespace Tailor.Util;

/// <summary>
/// CPU time this process has used (all threads, user + system) since the clock was started: the
/// compute a search spent, independent of how loaded the machine was (wall time is not).
/// </summary>
public sealed class ProcessCpuClock
{
    readonly Process _proc = Process.GetCurrentProcess();
    readonly TimeSpan _start;

    ProcessCpuClock() => _start = _proc.TotalProcessorTime;

    public static ProcessCpuClock Start() => new();

    public double Seconds
    {
        get { _proc.Refresh(); return (_proc.TotalProcessorTime - _start).TotalSeconds; }
    }
}
