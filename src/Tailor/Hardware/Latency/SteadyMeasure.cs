namespace Tailor.Hardware.Latency;

/// <summary>
/// A latency measured once the device is back at rest. Right after sustained load (a training run)
/// this kind of host runs slower for a while: measured here, one network read 0.429 ms idle, 0.521 ms
/// right after 60 s of two-core load and 0.492 ms 20 s later, and a final measurement taken right after
/// training was +36% while the same network measured alone a minute later was -2% from its target.
/// A deployment latency is the device at rest, so: measure, pause, measure again, and stop when two
/// consecutive medians agree within <see cref="Options.Tolerance"/> (the latest one is kept), or when
/// <see cref="Options.MaxWait"/> is spent (then the latest, flagged not steady).
/// </summary>
public static class SteadyMeasure
{
    public sealed record Options
    {
        public double Tolerance { get; init; } = 0.03;
        public TimeSpan Pause { get; init; } = TimeSpan.FromSeconds(10);
        public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(120);
        public static Options Default { get; } = new();
    }

    /// <param name="Latency">The measurement that was kept (the latest).</param>
    /// <param name="Medians">Every median measured, in order (the first is what a single measurement would have reported).</param>
    public sealed record Result(ArchLatency Latency, IReadOnlyList<double> Medians, double WaitedSeconds, bool Steady);

    public static Result Run(Func<ArchLatency> measure, Options? o = null, Action<TimeSpan>? sleep = null, Action<int, double>? onMeasured = null)
    {
        o ??= Options.Default;
        sleep ??= Thread.Sleep;
        var last = measure();
        var medians = new List<double> { last.MedianMs };
        onMeasured?.Invoke(1, last.MedianMs);
        double waited = 0;
        while (waited + o.Pause.TotalSeconds <= o.MaxWait.TotalSeconds + 1e-9)
        {
            sleep(o.Pause);
            waited += o.Pause.TotalSeconds;
            var next = measure();
            medians.Add(next.MedianMs);
            onMeasured?.Invoke(medians.Count, next.MedianMs);
            bool agree = Math.Abs(next.MedianMs - last.MedianMs) <= o.Tolerance * Math.Min(next.MedianMs, last.MedianMs);
            last = next;
            if (agree) return new Result(last, medians, waited, true);
        }
        return new Result(last, medians, waited, false);
    }
}
