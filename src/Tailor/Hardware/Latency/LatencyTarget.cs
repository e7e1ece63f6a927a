using System.Globalization;
using Tailor.Arch;

namespace Tailor.Hardware.Latency;

/// <summary>A network (or part of one) loaded on a target, ready to time: one <see cref="Run"/> = one inference on a fixed input.</summary>
public interface ILatencyModel : IDisposable
{
    void Run();

    /// <summary>Called before every timed <see cref="Run"/>, outside the timed region (e.g. to evict caches).</summary>
    void BeforeRun() { }

    /// <summary>True when a run does all its work on the calling thread (one intra-op thread): its thread CPU time is then its latency on an idle machine.</summary>
    bool RunsOnCallingThread => false;
}

/// <summary>
/// Where latency is measured: a runtime on this machine with a fixed thread count. Parse one from a
/// spec string with <see cref="LatencyTargets.Parse"/> ("ort-cpu", "ort-cpu:threads=2", "torch-cpu:threads=1").
/// Networks get deterministic random weights (latency does not depend on their values).
/// </summary>
public interface ILatencyTarget
{
    /// <summary>"ort-cpu" or "torch-cpu".</summary>
    string Kind { get; }
    /// <summary>Canonical spec with every option spelled out ("ort-cpu:threads=1"): the key of caches and tables.</summary>
    string Spec { get; }
    int Threads { get; }
    /// <summary>Runtime name and version, e.g. "onnxruntime 1.31.1" or "torchsharp 0.107.0 (libtorch 2.10.0)".</summary>
    string Runtime { get; }

    /// <summary>The whole network at batch <paramref name="batch"/>.</summary>
    ILatencyModel Prepare(Architecture arch, int batch = 1, int seed = 0);

    /// <summary>Analysis rows [from, to) of the network alone, on their real input shape (see <see cref="Onnx.OnnxExport.BuildSegment"/>).</summary>
    ILatencyModel PrepareSegment(Architecture arch, ArchAnalysis analysis, int from, int to, int batch = 1, int seed = 0);

    /// <summary>A graph that does nothing on an input of this shape: the fixed cost of one call into the runtime.</summary>
    ILatencyModel PrepareOverhead(int channels, int height, int width, int batch = 1);
}

public static class LatencyTargets
{
    public static readonly string[] Kinds = { "ort-cpu", "torch-cpu" };

    /// <summary>Parses "KIND[:key=value[,key=value]]"; keys: threads (default 1).</summary>
    public static ILatencyTarget Parse(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new TailorException("target: empty spec; expected e.g. ort-cpu or ort-cpu:threads=2");
        int colon = spec.IndexOf(':');
        string kind = (colon < 0 ? spec : spec[..colon]).Trim();
        var opts = new Dictionary<string, string>();
        if (colon >= 0)
            foreach (var part in spec[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = part.Split('=', 2);
                if (kv.Length != 2 || kv[0].Trim().Length == 0)
                    throw new TailorException($"target '{spec}': option '{part}' is not key=value");
                opts[kv[0].Trim()] = kv[1].Trim();
            }
        int threads = 1;
        foreach (var (k, v) in opts)
        {
            if (k == "threads")
            {
                if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out threads) || threads < 1 || threads > 256)
                    throw new TailorException($"target '{spec}': threads must be an integer in 1..256 (got '{v}')");
            }
            else throw new TailorException($"target '{spec}': unknown option '{k}'; known: threads");
        }
        return kind switch
        {
            "ort-cpu" => new OrtCpuTarget(threads),
            "torch-cpu" => new TorchCpuTarget(threads),
            _ => throw new TailorException($"target '{spec}': unknown target '{kind}'; available: {string.Join(", ", Kinds)}"),
        };
    }
}
