using System.Globalization;
using System.Text.Json.Nodes;
using Tailor.Arch;
using Tailor.Hardware.Latency;
using Tailor.Reports;
using Tailor.Util;

namespace Tailor.Search.Donna;

/// <summary>The block space as a search space for the multi-trial strategies: one option index per block.</summary>
public sealed class BlockSearchSpace(BlockSpace space) : ChoiceVectorSpace(Enumerable.Repeat(space.Options.Count, space.BlockCount).ToArray())
{
    public BlockSpace Space { get; } = space;
    public override string Name => "donna:" + Space.Name;
    protected override string PositionName => "block";
}

/// <summary>Predicted accuracy (valid) from the block NSRs, latency measured on the target once per architecture (cached on disk).</summary>
public sealed class DonnaEvaluator(BlockSpace space, double[][] nsr, AccuracyPredictor predictor, ILatencyTarget target, LatencyCache cache, MeasureOptions measure) : IEvaluator<int[]>
{
    public IReadOnlyCollection<string> MetricNames { get; } = new[] { Metrics.ValidName, Metrics.LatencyName };
    public int Measured { get; private set; }

    public double PredictAccuracy(IReadOnlyList<int> choice) => predictor.Predict(choice.Select((m, n) => nsr[n][m]).ToArray());

    public double Latency(IReadOnlyList<int> choice)
    {
        var arch = space.Build(choice);
        if (cache.Get(arch, 1, target) is { } hit) return hit.MedianMs;
        Measured++;
        // on a busy machine the spread may not settle: measure again with a looser bound rather than lose the search
        var m = measure;
        for (int attempt = 0; ; attempt++)
        {
            try { return cache.GetOrMeasure(target, arch, 1, m).MedianMs; }
            catch (TailorException) when (attempt < 2) { m = m with { MaxError = Math.Max(0.1, m.MaxError * 3) * (attempt + 1) }; }
        }
    }

    public Metrics Evaluate(int[] a) => new() { Valid = PredictAccuracy(a), Latency = Latency(a) };
}

public sealed record DonnaSearchOptions
{
    public int Population { get; init; } = 16;
    public int Generations { get; init; } = 8;
    public double? LatencyMs { get; init; }
    public long Seed { get; init; }
    /// <summary>Relative slack around the reachable latency range before a target is rejected.</summary>
    public double Tolerance { get; init; } = 0.05;

    public string Id(ILatencyTarget t) =>
        $"{t.Spec}|lat={(LatencyMs is double l ? l.ToString("R", CultureInfo.InvariantCulture) : "none")}|pop={Population}|gen={Generations}|seed={Seed}";

    public string Folder(ILatencyTarget t)
    {
        var h = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Id(t)));
        string lat = LatencyMs is double l ? "-" + l.ToString("0.###", CultureInfo.InvariantCulture) + "ms" : "";
        return $"{t.Kind}{lat}-{Convert.ToHexString(h, 0, 4).ToLowerInvariant()}";
    }
}

/// <summary>One point of the front as written to pareto.json.</summary>
public sealed record FrontPoint(string Key, string[] Blocks, double PredictedAcc, double LatencyMs, long Params, long Macs);

/// <summary>NSGA-II (from the multi-trial toolkit) over the block space: maximise predicted accuracy, minimise measured latency, optional latency constraint.</summary>
public static class DonnaSearch
{
    /// <summary>The per-block options of fewest and most MACs: the fastest and slowest corners of the space (for the reachable range).</summary>
    public static (int[] Min, int[] Max) Extremes(BlockSpace space)
    {
        long Macs(int n, int m)
        {
            var choice = new int[space.BlockCount];
            choice[n] = m;
            return ArchAnalysis.Analyze(space.Build(choice)).Macs;
        }
        var min = new int[space.BlockCount]; var max = new int[space.BlockCount];
        for (int n = 0; n < space.BlockCount; n++)
        {
            var macs = Enumerable.Range(0, space.Options.Count).Select(m => Macs(n, m)).ToArray();
            min[n] = Array.IndexOf(macs, macs.Min());
            max[n] = Array.IndexOf(macs, macs.Max());
        }
        return (min, max);
    }

    /// <summary>Measures the corners and rejects a latency target outside [fastest, slowest] (with tolerance).</summary>
    public static (double Lo, double Hi) CheckTarget(BlockSpace space, DonnaEvaluator ev, DonnaSearchOptions o, string targetSpec)
    {
        var (mn, mx) = Extremes(space);
        double lo = ev.Latency(mn), hi = ev.Latency(mx);
        if (o.LatencyMs is double t && (t < lo * (1 - o.Tolerance) || t > hi * (1 + o.Tolerance)))
            throw new TailorException($"--latency-ms {t.ToString("0.###", CultureInfo.InvariantCulture)}: outside the range this space reaches on {targetSpec}: " +
                $"{lo.ToString("F3", CultureInfo.InvariantCulture)} ms (fastest network) .. {hi.ToString("F3", CultureInfo.InvariantCulture)} ms (slowest)");
        return (lo, hi);
    }

    public static SearchRun<int[]> Create(BlockSearchSpace ss, DonnaEvaluator ev, DonnaSearchOptions o)
    {
        var problem = new SearchProblem(new[] { Objective.Max(Metrics.ValidName), Objective.Min(Metrics.LatencyName) },
            o.LatencyMs is double t ? new[] { new Constraint(Metrics.LatencyName, t) } : null);
        var strat = new Strategies.Nsga2<int[]>((ulong)o.Seed, new Strategies.Nsga2Options { Population = o.Population });
        int budget = (int)Math.Min(ss.Size, (double)o.Population * o.Generations);
        return new SearchRun<int[]>(ss, ev, problem, strat, new Budget(budget));
    }

    /// <summary>Feasible non-dominated points of the history, by latency.</summary>
    public static List<Evaluated<int[]>> Front(SearchRun<int[]> run)
    {
        var feasible = run.Context.History.Where(e => run.Context.Problem.Feasible(e.Metrics)).ToList();
        var objs = feasible.Select(e => new[] { -e.Metrics.Valid, e.Metrics.Latency }).ToList();
        return Pareto.Front(objs).Select(i => feasible[i]).OrderBy(e => e.Metrics.Latency).ToList();
    }

    /// <summary>Hypervolume of (accuracy, latency) points against (refAcc, refMs): area of accuracy above refAcc times latency below refMs.</summary>
    public static double Hypervolume(IEnumerable<(double Acc, double Ms)> pts, double refAcc, double refMs) =>
        Pareto.Hypervolume2D(pts.Select(p => new[] { -p.Acc, p.Ms }), -refAcc, refMs);

    public static void Plot(string path, SearchRun<int[]> run, IReadOnlyList<Evaluated<int[]>> front, IEnumerable<(string Label, double[] Ms, double[] Acc)>? extra = null, double? limit = null)
    {
        var all = run.Context.History;
        var series = new List<PlotSeries>
        {
            new("evaluated (predicted)", all.Select(e => e.Metrics.Latency).ToList(), all.Select(e => 100 * e.Metrics.Valid).ToList()) { Lines = false, Color = "#b0b0b0", MarkerSize = 4 },
            new("Pareto front (predicted)", front.Select(e => e.Metrics.Latency).ToList(), front.Select(e => 100 * e.Metrics.Valid).ToList()) { Step = true, Markers = true, Color = "#1f77b4" },
        };
        if (extra != null) foreach (var (l, ms, acc) in extra) series.Add(new PlotSeries(l, ms, acc.Select(a => 100 * a).ToList()) { Lines = false, MarkerSize = 8 });
        if (limit is double t) series.Add(new PlotSeries($"latency limit {t:0.###} ms", new[] { t, t }, new[] { all.Min(e => 100 * e.Metrics.Valid), all.Max(e => 100 * e.Metrics.Valid) }) { Color = "#d62728", LineWidth = 1 });
        Plots.Scatter(path, series, new PlotOptions { Title = "DONNA: predicted accuracy vs measured latency", XLabel = "latency (ms, measured)", YLabel = "accuracy (%)" });
    }
}
