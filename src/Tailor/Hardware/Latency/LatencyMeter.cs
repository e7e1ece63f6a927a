using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;
using Tailor.Util;

namespace Tailor.Hardware.Latency;

/// <summary>
/// The measurement protocol (fixed structure; thresholds are options): <see cref="Warmup"/> untimed runs,
/// then rounds of <see cref="RunsPerRound"/> timed runs (more for very fast models, so that a round lasts
/// at least <see cref="MinRoundMs"/>). The latency is the median of the round medians. After
/// <see cref="MinRounds"/> rounds the result is settled when the relative standard error of that median,
/// 1.2533 * CV / sqrt(rounds) with CV = 1.4826 * MAD / median of the round medians, is at most
/// <see cref="MaxError"/>; otherwise rounds are added (a noisy machine needs more), up to
/// <see cref="MaxRounds"/>, after which the measurement fails ("spread never settled").
/// Several models measured together are interleaved round by round (order rotated every round),
/// so slow drifts of the machine (other processes) hit all of them alike.
/// Clock: a model that runs on the calling thread (one intra-op thread) is timed by the thread's CPU
/// time (CLOCK_THREAD_CPUTIME_ID), which equals the wall time on an idle machine but does not count
/// the time the scheduler gives other processes (a 3 ms run on a busy machine is preempted far more
/// often than a 0.1 ms one, which would bias whole networks against their blocks); multi-threaded
/// models are timed by the wall clock. Both are recorded.
/// </summary>
public sealed record MeasureOptions
{
    /// <summary>"auto" (thread CPU time for single-threaded models, else wall), "wall" or "cpu".</summary>
    public string Clock { get; init; } = "auto";
    public int Warmup { get; init; } = 10;
    public int RunsPerRound { get; init; } = 10;
    public int MinRounds { get; init; } = 5;
    public int MaxRounds { get; init; } = 40;
    /// <summary>Largest accepted relative standard error of the median of round medians (0.02 = 2%).</summary>
    public double MaxError { get; init; } = 0.02;
    /// <summary>Run rounds at least this long (ms): very fast models get more runs per round.</summary>
    public double MinRoundMs { get; init; } = 10;
    /// <summary>
    /// Pin the measuring thread to the core it runs on while a single-threaded model is timed
    /// (Linux sched_setaffinity). On this 2-core VM, unpinned runs migrate between cores and the
    /// medians of separate processes spread by about 15%; pinned, about 5%.
    /// </summary>
    public bool PinCore { get; init; } = true;

    public static MeasureOptions Default { get; } = new();

    public void Validate()
    {
        if (Warmup < 0) throw new TailorException($"measure: warmup must be >= 0 (got {Warmup})");
        if (RunsPerRound < 1) throw new TailorException($"measure: runs per round must be >= 1 (got {RunsPerRound})");
        if (MinRounds < 1) throw new TailorException($"measure: min rounds must be >= 1 (got {MinRounds})");
        if (MaxRounds < MinRounds) throw new TailorException($"measure: max rounds ({MaxRounds}) must be >= min rounds ({MinRounds})");
        if (!(MaxError >= 0)) throw new TailorException($"measure: max error must be >= 0 (got {MaxError})");
        if (!(MinRoundMs >= 0)) throw new TailorException($"measure: min round time must be >= 0 (got {MinRoundMs})");
        if (Clock is not ("auto" or "wall" or "cpu")) throw new TailorException($"measure: clock '{Clock}': expected auto, wall or cpu");
    }
}

/// <summary>One measurement. All times in ms.</summary>
public sealed record LatencyResult
{
    [JsonPropertyName("median_ms")] public double MedianMs { get; init; }
    [JsonPropertyName("iqr_ms")] public double IqrMs { get; init; }
    [JsonPropertyName("runs")] public int Runs { get; init; }
    [JsonPropertyName("rounds")] public int Rounds { get; init; }
    [JsonPropertyName("runs_per_round")] public int RunsPerRound { get; init; }
    [JsonPropertyName("warmup")] public int Warmup { get; init; }
    [JsonPropertyName("mean_ms")] public double MeanMs { get; init; }
    [JsonPropertyName("min_ms")] public double MinMs { get; init; }
    /// <summary>Coefficient of variation std/mean of all timed runs.</summary>
    [JsonPropertyName("cv")] public double Cv { get; init; }
    /// <summary>Robust CV of the round medians (1.4826 * MAD / median).</summary>
    [JsonPropertyName("rounds_cv")] public double RoundsCv { get; init; }
    /// <summary>Relative standard error of <see cref="MedianMs"/>: the settle criterion.</summary>
    [JsonPropertyName("error")] public double Error { get; init; }
    [JsonPropertyName("round_medians_ms")] public double[] RoundMediansMs { get; init; } = Array.Empty<double>();
    [JsonPropertyName("settled")] public bool Settled { get; init; }
    /// <summary>"cpu" (thread CPU time) or "wall": what the times above are.</summary>
    [JsonPropertyName("clock")] public string Clock { get; init; } = "wall";
    /// <summary>Median wall time of all runs (equals <see cref="MedianMs"/> up to noise on an idle machine).</summary>
    [JsonPropertyName("wall_median_ms")] public double WallMedianMs { get; init; }
    /// <summary>Share of runs whose wall time exceeded their CPU time by more than 5% (preempted by other processes).</summary>
    [JsonPropertyName("preempted")] public double Preempted { get; init; }
}

public static class LatencyMeter
{
    /// <summary>Relative standard error of the median of <paramref name="roundMedians"/> (robust: MAD-based).</summary>
    public static double RelError(IReadOnlyList<double> roundMedians) =>
        1.2533 * Stats.RobustCv(roundMedians) / Math.Sqrt(roundMedians.Count);

    public static LatencyResult Measure(ILatencyModel model, MeasureOptions? o = null, string what = "latency") =>
        MeasureMany(new[] { model }, o, new[] { what })[0];

    /// <summary>
    /// Measures several models interleaved: warm-up of each, then round r times every unsettled
    /// model once (order rotated by r). Throws "spread never settled" naming the first model that did not settle.
    /// </summary>
    public static LatencyResult[] MeasureMany(IReadOnlyList<ILatencyModel> models, MeasureOptions? o = null, IReadOnlyList<string>? names = null,
        Action<int, int>? progress = null, bool throwUnsettled = true)
    {
        o ??= MeasureOptions.Default;
        o.Validate();
        int n = models.Count;
        var runsPerRound = new int[n];
        var samples = new List<double>[n];
        var medians = new List<double>[n];
        var settled = new bool[n];
        double tick = 1000.0 / Stopwatch.Frequency;
        bool cpu = o.Clock == "cpu" || (o.Clock == "auto" && models.All(m => m.RunsOnCallingThread));
        if (cpu && !ThreadClock.Available) cpu = false;
        var walls = new List<double>[n];
        var preempted = new int[n];
        for (int i = 0; i < n; i++)
        {
            samples[i] = new(); medians[i] = new(); walls[i] = new();
            for (int w = 0; w < o.Warmup; w++) models[i].Run();
            // calibrate the round size once (deterministic rule): enough runs to fill MinRoundMs
            long t0 = Stopwatch.GetTimestamp();
            models[i].Run();
            double one = (Stopwatch.GetTimestamp() - t0) * tick;
            runsPerRound[i] = Math.Max(o.RunsPerRound, one <= 0 ? o.RunsPerRound : (int)Math.Min(10000, Math.Ceiling(o.MinRoundMs / one)));
        }
        var buf = new double[runsPerRound.Max()];
        var wbuf = new double[runsPerRound.Max()];
        using var pin = cpu && o.PinCore ? ThreadAffinity.PinToCurrentCore() : null;
        for (int r = 0; r < o.MaxRounds; r++)
        {
            for (int j = 0; j < n; j++)
            {
                int i = (j + r) % n;
                if (settled[i]) continue;
                int k = runsPerRound[i];
                var m = models[i];
                for (int s = 0; s < k; s++)
                {
                    m.BeforeRun();
                    long c0 = cpu ? ThreadClock.Nanoseconds() : 0;
                    long t = Stopwatch.GetTimestamp();
                    m.Run();
                    double wall = (Stopwatch.GetTimestamp() - t) * tick;
                    double c = cpu ? (ThreadClock.Nanoseconds() - c0) * 1e-6 : wall;
                    wbuf[s] = wall;
                    buf[s] = c;
                    if (cpu && wall > 1.05 * c) preempted[i]++;
                }
                var round = buf.AsSpan(0, k).ToArray();
                walls[i].AddRange(wbuf.AsSpan(0, k).ToArray());
                samples[i].AddRange(round);
                medians[i].Add(Stats.Median(round));
                if (medians[i].Count >= o.MinRounds && RelError(medians[i]) <= o.MaxError) settled[i] = true;
            }
            progress?.Invoke(r + 1, settled.Count(x => x));
            if (settled.All(x => x)) break;
        }
        var results = new LatencyResult[n];
        for (int i = 0; i < n; i++)
        {
            var s = samples[i];
            results[i] = new LatencyResult
            {
                MedianMs = Stats.Median(medians[i]), IqrMs = Stats.Iqr(s), Runs = s.Count, Rounds = medians[i].Count,
                RunsPerRound = runsPerRound[i], Warmup = o.Warmup, MeanMs = s.Average(), MinMs = s.Min(), Cv = Stats.Cv(s),
                RoundsCv = Stats.RobustCv(medians[i]), Error = RelError(medians[i]), RoundMediansMs = medians[i].ToArray(), Settled = settled[i],
                Clock = cpu ? "cpu" : "wall", WallMedianMs = Stats.Median(walls[i]), Preempted = (double)preempted[i] / s.Count,
            };
            if (!settled[i] && throwUnsettled)
                throw new TailorException(
                    $"{(names != null ? names[i] : "latency")}: spread never settled: CV {results[i].RoundsCv * 100:F1}% of round medians after {results[i].Rounds} rounds, " +
                    $"error {results[i].Error * 100:F2}% (limit {o.MaxError * 100:F2}%); the machine may be busy: retry, or raise --max-error or --max-rounds");
        }
        return results;
    }
}

/// <summary>The calling thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID).</summary>
public static partial class ThreadClock
{
    [StructLayout(LayoutKind.Sequential)]
    struct Timespec { public long Sec; public long Nsec; }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec ts);

    const int CLOCK_THREAD_CPUTIME_ID = 3;

    public static readonly bool Available = Probe();

    static bool Probe()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return ClockGetTime(CLOCK_THREAD_CPUTIME_ID, out _) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    public static long Nanoseconds()
    {
        ClockGetTime(CLOCK_THREAD_CPUTIME_ID, out var ts);
        return ts.Sec * 1_000_000_000 + ts.Nsec;
    }
}

/// <summary>Pins the calling thread to one core for the lifetime of the handle (Linux; elsewhere a no-op).</summary>
public sealed partial class ThreadAffinity : IDisposable
{
    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SetAffinity(int pid, nint size, ulong[] mask);
    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static partial int GetAffinity(int pid, nint size, ulong[] mask);
    [LibraryImport("libc", EntryPoint = "sched_getcpu")]
    private static partial int GetCpu();

    readonly ulong[]? _old;
    readonly int _thread;

    ThreadAffinity(ulong[]? old, int thread) { _old = old; _thread = thread; }

    /// <summary>Pins the calling thread to the core it is on now; disposing (on the same thread) restores the old mask.</summary>
    public static ThreadAffinity? PinToCurrentCore()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var old = new ulong[16];
            if (GetAffinity(0, old.Length * 8, old) != 0) return null;
            int cpu = GetCpu();
            if (cpu < 0 || cpu >= old.Length * 64) return null;
            var mask = new ulong[16];
            mask[cpu / 64] = 1UL << (cpu % 64);
            if (SetAffinity(0, mask.Length * 8, mask) != 0) return null;
            return new ThreadAffinity(old, Environment.CurrentManagedThreadId);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    public void Dispose()
    {
        if (_old != null && Environment.CurrentManagedThreadId == _thread) SetAffinity(0, _old.Length * 8, _old);
    }
}
