using Tailor.Arch;

namespace Tailor.Hardware.Latency;

/// <summary>One measured width of <see cref="WidthFit"/>.</summary>
public sealed record WidthPoint(double Width, double MedianMs, long Params, long Macs);

/// <summary>What <see cref="WidthFit.Fit"/> found: the chosen width, its network and measurement, and every width it measured.</summary>
public sealed record WidthFitResult(double Width, Architecture Arch, ArchLatency Latency, double TargetMs, IReadOnlyList<WidthPoint> Probes)
{
    public double Error => Latency.MedianMs / TargetMs - 1;
}

/// <summary>
/// Scales a hand-designed network by its width multiplier (<see cref="WidthScaling"/>) until its
/// measured latency on a target matches a budget: the baseline a searched network must beat at equal
/// latency. Widths live on a grid (multiples of <see cref="Step"/>) because channel counts are rounded
/// to multiples of 8 and nearby widths are the same network. Latency grows with width, so a bisection
/// on the grid index brackets the target in about log2(grid) measurements; the two bracketing widths
/// are then measured again, interleaved, and the closer one wins (ties: the faster one).
/// </summary>
public static class WidthFit
{
    public const double Step = 0.05;

    public static WidthFitResult Fit(ILatencyTarget target, Architecture baseArch, double targetMs, double minWidth = 0.1, double maxWidth = 2.0,
        MeasureOptions? o = null, Action<string>? log = null)
    {
        if (!(targetMs > 0) || double.IsInfinity(targetMs)) throw new TailorException($"--latency-ms must be > 0 (got {targetMs})");
        if (!(minWidth > 0) || !(maxWidth >= minWidth)) throw new TailorException($"width range {minWidth}..{maxWidth}: expected 0 < min <= max");
        var grid = new List<double>();
        for (int k = (int)Math.Ceiling(minWidth / Step - 1e-9); k * Step <= maxWidth + 1e-9; k++) grid.Add(Math.Round(k * Step, 4));
        if (grid.Count == 0) throw new TailorException($"width range {minWidth}..{maxWidth} holds no multiple of {Step}");
        var probes = new Dictionary<int, WidthPoint>();
        var archs = new Dictionary<int, Architecture>();
        Architecture At(int i) => archs.TryGetValue(i, out var a) ? a : archs[i] = WidthScaling.Scale(baseArch, grid[i]);
        double Ms(int i)
        {
            if (probes.TryGetValue(i, out var p)) return p.MedianMs;
            var a = At(i);
            var r = ArchLatencies.Measure(target, a, 1, o);
            var an = ArchAnalysis.Analyze(a);
            probes[i] = new WidthPoint(grid[i], r.MedianMs, an.Params, an.Macs);
            log?.Invoke($"width {grid[i]:0.00}: {r.MedianMs:F3} ms");
            return r.MedianMs;
        }
        int lo = 0, hi = grid.Count - 1;
        double mLo = Ms(lo), mHi = Ms(hi);
        if (targetMs < mLo * 0.95 || targetMs > mHi * 1.05)
            throw new TailorException($"--latency-ms {targetMs:G4}: {baseArch.Name} reaches {mLo:F3} ms (width {grid[lo]:0.00}) .. {mHi:F3} ms (width {grid[hi]:0.00}) on {target.Spec}; choose a target in that range");
        while (hi - lo > 1)
        {
            int mid = (lo + hi) / 2;
            if (Ms(mid) <= targetMs) lo = mid; else hi = mid;
        }
        // the bracket measured again side by side: separate measurements drift on a shared machine
        var pair = ArchLatencies.MeasureMany(target, new[] { At(lo), At(hi) }, 1, o);
        int pick = Math.Abs(pair[1].MedianMs - targetMs) < Math.Abs(pair[0].MedianMs - targetMs) ? 1 : 0;
        int idx = pick == 0 ? lo : hi;
        var list = probes.OrderBy(kv => kv.Key).Select(kv => kv.Value).ToList();
        return new WidthFitResult(grid[idx], At(idx), pair[pick], targetMs, list);
    }
}
