using Tailor.Benchmarks;
using Tailor.Search;

namespace Tailor.Tests.Search;

/// <summary>A synthetic, data-free evaluator on the NB201 cell space: accuracy and latency are fixed functions of the ops.</summary>
public sealed class SyntheticNb201 : IEvaluator<Nb201Arch>
{
    static readonly double[] OpLatency = [0.0, 0.1, 1.0, 2.5, 0.4];
    public IReadOnlyCollection<string> MetricNames => [Metrics.ValidName, Metrics.TestName, Metrics.LatencyName, Metrics.CostName];
    public int Calls;

    static double Hash(int a, int b)
    {
        ulong x = (ulong)(a * 7919 + b * 104729 + 17);
        x ^= x >> 33; x *= 0xff51afd7ed558ccdUL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53UL; x ^= x >> 33;
        return (x % 10000) / 10000.0;
    }

    public static Metrics Of(Nb201Arch a)
    {
        double v = 50, lat = 0.2;
        for (int e = 0; e < Nb201Arch.Edges; e++)
        {
            int op = a.Op(e);
            v += op == 0 ? -5 : 2 * op + 3 * Hash(e, op);
            lat += OpLatency[op] * (1 + e * 0.1);
        }
        v += 0.5 * Hash(a.Code, 1);
        return new Metrics { Valid = v, Test = v + Hash(a.Code, 2) - 0.5, Latency = lat, Cost = 1 };
    }

    public Metrics Evaluate(Nb201Arch arch) { Interlocked.Increment(ref Calls); return Of(arch); }
}

public static class Data
{
    public static string Nb201OrSkip()
    {
        string p = SharedData.Path201;
        Skip.If(!File.Exists(p), $"shared data missing: {p} (set {SharedData.EnvVar} or put ../shared/data next to the repository)");
        return p;
    }

    public static string FbnetOrSkip()
    {
        string p = SharedData.PathFbnet;
        Skip.If(!File.Exists(p), $"shared data missing: {p} (set {SharedData.EnvVar} or put ../shared/data next to the repository)");
        return p;
    }

    static readonly Lazy<BenchSetup<Nb201Arch>> _nb201 = new(() => BenchFactory.Nb201(new BenchRequest()));
    public static BenchSetup<Nb201Arch> Nb201() { Nb201OrSkip(); return _nb201.Value; }

    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "tailor-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}
