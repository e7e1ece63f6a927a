using System.Diagnostics;
using Tailor.Arch;
using Tailor.Hardware.Latency;
using Tailor.Hardware.Onnx;
using Tailor.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Tests.Hardware;

/// <summary>Export-equivalence helpers: TorchSharp eval output vs ONNX Runtime output of the export.</summary>
public static class OnnxTestUtil
{
    /// <summary>Random (non-trivial) BN statistics and affine parameters, so BN folding is really exercised.</summary>
    public static void RandomizeBatchNorm(ConvNet net, int seed)
    {
        using var _ = no_grad();
        var g = new TorchSharp.torch.Generator((ulong)seed);
        foreach (var (_, m) in net.named_modules())
            if (m is NormBase bn)
            {
                long c = bn.weight!.shape[0];
                bn.weight.copy_(rand(c, generator: g) + 0.5);
                bn.bias!.copy_(randn(c, generator: g) * 0.1);
                bn.running_mean!.copy_(randn(c, generator: g) * 0.1);
                bn.running_var!.copy_(rand(c, generator: g) + 0.5);
            }
    }

    /// <summary>Max |torch - ort| on a random batch; returns the serialized model too.</summary>
    public static (double MaxDiff, byte[] Model) Compare(Architecture arch, int seed, int batch = 2, OnnxExportOptions? o = null)
    {
        using var scope = NewDisposeScope();
        manual_seed(seed);
        using var net = new ConvNet(arch);
        RandomizeBatchNorm(net, seed);
        net.eval();
        var x = randn(batch, arch.Input.Channels, arch.Input.Height, arch.Input.Width);
        float[] expected;
        using (no_grad()) expected = net.call(x).data<float>().ToArray();
        var bytes = OnnxExport.ToBytes(OnnxExport.FromConvNet(net, o));
        var got = OrtRunner.Run(bytes, x.data<float>().ToArray(), x.shape);
        Assert.Equal(expected.Length, got.Length);
        double d = 0;
        for (int i = 0; i < got.Length; i++) d = Math.Max(d, Math.Abs(got[i] - expected[i]));
        return (d, bytes);
    }
}

/// <summary>
/// One python3 process running onnx.checker.check_model(full_check=True) on model files sent one per line
/// (Debian's python3-onnx). <see cref="Available"/> is false (with <see cref="Why"/>) when python3 or onnx is missing.
/// </summary>
public sealed class OnnxChecker : IDisposable
{
    const string Script = """
import sys
try:
    import onnx
except Exception as e:
    print("NOONNX " + str(e).replace("\n", " "), flush=True); sys.exit(0)
print("READY " + onnx.__version__, flush=True)
for line in sys.stdin:
    p = line.strip()
    if not p: continue
    try:
        m = onnx.load(p)
        onnx.checker.check_model(m, full_check=True)
        print("OK", flush=True)
    except Exception as e:
        print("FAIL " + str(e).replace("\n", " ")[:500], flush=True)
""";

    readonly Process? _p;
    public bool Available { get; }
    public string Why { get; } = "";
    public string Version { get; } = "";
    readonly string _dir = Directory.CreateTempSubdirectory("tailor-onnxcheck").FullName;
    int _n;

    public OnnxChecker()
    {
        try
        {
            var psi = new ProcessStartInfo("/usr/bin/python3", new[] { "-c", Script })
            { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (!File.Exists("/usr/bin/python3")) { Why = "/usr/bin/python3 not found (install python3-onnx)"; return; }
            _p = Process.Start(psi)!;
            var first = _p.StandardOutput.ReadLine() ?? "";
            if (first.StartsWith("READY ")) { Available = true; Version = first[6..]; }
            else Why = $"python3-onnx is not installed ({first}); apt-get install python3-onnx";
        }
        catch (Exception e) { Why = $"cannot start python3 ({e.Message})"; }
    }

    /// <summary>null when the model passes, else the checker's message.</summary>
    public string? Check(byte[] model)
    {
        if (!Available) throw new InvalidOperationException(Why);
        string path = Path.Combine(_dir, $"m{_n++}.onnx");
        File.WriteAllBytes(path, model);
        _p!.StandardInput.WriteLine(path);
        _p.StandardInput.Flush();
        var line = _p.StandardOutput.ReadLine() ?? "FAIL checker died";
        File.Delete(path);
        return line == "OK" ? null : line;
    }

    public void Dispose()
    {
        try { _p?.StandardInput.Close(); _p?.WaitForExit(5000); } catch { }
        _p?.Dispose();
        try { Directory.Delete(_dir, true); } catch { }
    }
}
