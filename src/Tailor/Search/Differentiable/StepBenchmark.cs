using System.Diagnostics;
using System.Text.Json.Serialization;
using Tailor.Arch;
using Tailor.Util;

namespace Tailor.Search.Differentiable;

/// <summary>One method's step time and memory on the shared supernet.</summary>
public sealed record StepBenchResult(
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("ops_per_forward")] long OpsPerForward,
    [property: JsonPropertyName("median_ms")] double MedianMs,
    [property: JsonPropertyName("iqr_ms")] double IqrMs,
    [property: JsonPropertyName("round_medians_ms")] double[] RoundMediansMs,
    [property: JsonPropertyName("base_rss_mib")] double? BaseMiB,
    [property: JsonPropertyName("peak_rss_mib")] double? PeakMiB);

/// <summary>
/// Per-step time (one architecture step + one weight step, batch 64 by default) of DARTS (every op),
/// GDAS (one op per edge) and MSG-DAS (K ops per edge) on the same supernet (same seed, same weights),
/// interleaved in rounds so machine drift hits all methods alike. With <c>memory</c> only the first
/// method runs and the peak resident set size (VmHWM, reset through /proc/self/clear_refs before the
/// steps) is reported: run one process per method for memory.
/// </summary>
public static class StepBenchmark
{
    public static IReadOnlyList<StepBenchResult> Run(IReadOnlyList<string> methods, string space, int c, int n, int layers, int batch, int steps, int rounds, bool memory)
    {
        if (methods.Count == 0) throw new TailorException("--methods: empty");
        if (steps < 1 || rounds < 1) throw new TailorException("--steps and --rounds must be at least 1");
        var rng = new Rng(1);
        int count = 2 * batch * 2;
        var px = new byte[count * 3 * 32 * 32];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)rng.Next(256);
        var lb = Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray();
        var data = new Tailor.Data.ImageDataset("synthetic", px, lb, 3, 32, 32, 10);
        var table = space == "nb201" ? new Nb201Table(Nb201Table.DefaultPath(), null) : null;
        var runs = new List<(string Name, CellSearch S)>();
        try
        {
            foreach (var m in (memory ? methods.Take(1) : methods))
            {
                var o = new CellSearchOptions
                {
                    Space = space, C = c, N = n, Layers = layers, Batch = batch, TrainImages = count / 2, ValImages = count / 2, Seed = 0, Augment = false,
                };
                o = m switch
                {
                    "darts" => o with { Method = "darts" },
                    "gdas" => o with { Method = "gdas" },
                    _ when m.StartsWith("msg", StringComparison.Ordinal) && int.TryParse(m[3..], out int k) => o with { Method = "msg-das", K = k, DropBlock = 0 },
                    _ => throw new TailorException($"--methods: '{m}' is not darts, gdas or msgK"),
                };
                runs.Add((m, new CellSearch(o, data, table, null)));
            }
            // warm-up
            foreach (var (_, s) in runs) { s.BenchStep(0); s.BenchStep(1); }
            double? baseMiB = null;
            if (memory) { baseMiB = Rss("VmRSS"); ResetPeak(); }
            var times = runs.Select(_ => new List<double>()).ToArray();
            var roundMedians = runs.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < rounds; r++)
                for (int i = 0; i < runs.Count; i++)
                {
                    var t = new List<double>();
                    for (int k = 0; k < steps; k++)
                    {
                        var sw = Stopwatch.StartNew();
                        runs[i].S.BenchStep(2 + k);
                        t.Add(sw.Elapsed.TotalMilliseconds);
                    }
                    times[i].AddRange(t);
                    roundMedians[i].Add(Median(t));
                }
            double? peak = memory ? Rss("VmHWM") : null;
            return runs.Select((x, i) => new StepBenchResult(x.Name, x.S.OpsPerForward(), Median(times[i]), Iqr(times[i]), roundMedians[i].ToArray(), baseMiB, peak)).ToList();
        }
        finally { foreach (var (_, s) in runs) s.Dispose(); }
    }

    static double Median(IReadOnlyList<double> v) { var s = v.OrderBy(x => x).ToArray(); return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2; }
    static double Iqr(IReadOnlyList<double> v) { var s = v.OrderBy(x => x).ToArray(); return s[(int)(0.75 * (s.Length - 1))] - s[(int)(0.25 * (s.Length - 1))]; }

    static double? Rss(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                    return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
        }
        catch (IOException) { }
        return null;
    }

    static void ResetPeak() { try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } }
}
