using System.Runtime.InteropServices;

namespace Tailor.Hardware.Latency;

/// <summary>The machine a measurement was taken on (recorded in every result and latency table).</summary>
public sealed record MachineInfo(string Cpu, int Cores, string Os)
{
    static readonly Lazy<MachineInfo> _current = new(Detect);
    public static MachineInfo Current => _current.Value;

    public override string ToString() => $"{Cpu}, {Cores} cores, {Os}";

    static MachineInfo Detect()
    {
        string cpu = RuntimeInformation.ProcessArchitecture.ToString();
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
                if (line != null) cpu = line[(line.IndexOf(':') + 1)..].Trim();
            }
        }
        catch (IOException) { /* keep the architecture name */ }
        return new MachineInfo(cpu, Environment.ProcessorCount, RuntimeInformation.OSDescription);
    }

    /// <summary>The 1-minute load average (/proc/loadavg), or null where unavailable: recorded to judge noise.</summary>
    public static double? LoadAverage()
    {
        try
        {
            if (!File.Exists("/proc/loadavg")) return null;
            var s = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null;
        }
        catch (IOException) { return null; }
    }
}
