using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Tests.Build;

public class TorchSharpLoadTests
{
    [Fact]
    public void TensorOpAndBackwardRun()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 1, 2, 3 }, requires_grad: true);
        var w = tensor(new float[] { 0.5f, -1, 2 }, requires_grad: true);
        var y = (x * w).sum() + x.pow(2).sum();
        y.backward();
        Assert.Equal(new float[] { 2.5f, 3f, 8f }, x.grad!.data<float>().ToArray()); // w + 2x
        Assert.Equal(new float[] { 1, 2, 3 }, w.grad!.data<float>().ToArray());
        // a small conv + backward exercises the native kernels too
        var conv = nn.Conv2d(3, 4, 3, padding: 1);
        var o = conv.call(randn(2, 3, 8, 8)).mean();
        o.backward();
        Assert.NotNull(conv.weight!.grad);
    }

    static string? NuGetOriginal()
    {
        string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string p = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        return File.Exists(p) ? p : null;
    }

    [SkippableFact]
    public void PatchSetsWeakFlagAndIsIdempotent()
    {
        string? orig = NuGetOriginal();
        Skip.If(orig == null, "TorchSharp 0.107.0 native library not found in the NuGet cache");
        byte[] elf = File.ReadAllBytes(orig!);
        byte[] before = (byte[])elf.Clone();
        var first = GlibcxxWeakFix.Patch(elf, "GLIBCXX_3.4.32");
        Assert.Equal(GlibcxxWeakFix.PatchResult.Patched, first);
        int diff = Enumerable.Range(0, elf.Length).Count(i => elf[i] != before[i]);
        Assert.Equal(1, diff); // exactly one byte (the vna_flags low byte) changes
        Assert.Equal(GlibcxxWeakFix.PatchResult.AlreadyWeak, GlibcxxWeakFix.Patch(elf, "GLIBCXX_3.4.32"));
        Assert.Equal(GlibcxxWeakFix.PatchResult.NotNeeded, GlibcxxWeakFix.Patch(elf, "GLIBCXX_9.9.99"));
    }

    [SkippableFact]
    public void BuildOutputIsPatchedUnlessSystemHasTheVersion()
    {
        string lib = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Skip.IfNot(File.Exists(lib), "not a linux-x64 build output");
        bool systemHas = File.Exists("/lib/x86_64-linux-gnu/libstdc++.so.6")
            && File.ReadAllText("/lib/x86_64-linux-gnu/libstdc++.so.6", System.Text.Encoding.Latin1).Contains("GLIBCXX_3.4.32\0");
        var result = GlibcxxWeakFix.Patch(File.ReadAllBytes(lib), "GLIBCXX_3.4.32");
        Assert.Equal(systemHas ? GlibcxxWeakFix.PatchResult.Patched : GlibcxxWeakFix.PatchResult.AlreadyWeak, result);
    }

    [Fact]
    public void RejectsNonElf()
    {
        Assert.Throws<InvalidDataException>(() => GlibcxxWeakFix.Patch(new byte[100], "GLIBCXX_3.4.32"));
    }
}
