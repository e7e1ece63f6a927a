using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tailor.Reports;
using Tailor.Util;

namespace Tailor.Search;

/// <summary>Writes a protocol result: summary.json, histories/seed_N.csv, anytime.png (and hypervolume.png, front.png for two objectives), all atomically.</summary>
public static class ProtocolOutput
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    static JsonNode? N(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 6)) : null;
    static JsonNode? N(double? v) => v is { } x ? N(x) : null;
    static string F(double v) => double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture);

    public static JsonObject Versions() => new()
    {
        ["tailor"] = typeof(ProtocolOutput).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                     ?? typeof(ProtocolOutput).Assembly.GetName().Version?.ToString(),
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
        ["os"] = RuntimeInformation.OSDescription,
        ["state_version"] = SearchRun<string>.StateVersion,
    };

    static JsonNode? ToNode(object? o) => o switch
    {
        null => null,
        JsonNode n => n.DeepClone(),
        string s => s,
        bool b => b,
        int i => i,
        long l => l,
        double d => N(d),
        float f => N(f),
        IEnumerable<string> ss => new JsonArray(ss.Select(x => (JsonNode?)x).ToArray()),
        _ => o.ToString(),
    };

    /// <summary>The summary object (also what --json prints). <paramref name="config"/>: bench, file, columns, ... recorded as given.</summary>
    public static JsonObject Summary(ProtocolResult r, IReadOnlyDictionary<string, object?> config, bool perSeed = true)
    {
        var cfg = new JsonObject();
        foreach (var (k, v) in config) cfg[k] = ToNode(v);
        var opts = new JsonObject();
        foreach (var (k, v) in r.Options) opts[k] = ToNode(v);
        var reference = r.Reference;
        var o = new JsonObject
        {
            ["strategy"] = r.Strategy,
            ["problem"] = r.Problem.ToString(),
            ["budget"] = r.Config.Budget.MaxQueries,
            ["max_cost"] = N(r.Config.Budget.MaxCost),
            ["seeds"] = r.Seeds.Length,
            ["first_seed"] = r.Config.FirstSeed,
            ["mean_test"] = N(r.MeanTest),
            ["std_test"] = N(r.StdTest),
            ["mean_valid"] = N(r.MeanValid),
            ["std_valid"] = N(r.StdValid),
            ["mean_latency"] = N(r.MeanLatency),
            ["mean_regret"] = N(r.MeanRegret),
            ["std_regret"] = N(r.StdRegret),
            ["relative_improvement_pct"] = N(r.RelativeImprovement),
            ["median_queries_to_best"] = N(r.MedianQueriesToBest),
            ["found_best_seeds"] = reference?.BestValidKey == null ? null : r.FoundBest,
            ["table"] = reference == null ? null : new JsonObject
            {
                ["architectures"] = reference.Total,
                ["feasible"] = reference.Feasible,
                ["mean_test"] = N(reference.MeanTest),
                ["best_test"] = N(reference.BestTest),
                ["best_valid_arch"] = reference.BestValidKey,
                ["best_valid_arch_test"] = N(reference.BestValidTest),
                ["true_front_size"] = reference.TrueFront?.Count,
            },
            ["hypervolume"] = N(r.MeanHv),
            ["std_hypervolume"] = N(r.StdHv),
            ["true_front_hypervolume"] = N(reference?.TrueFrontHv),
            ["hypervolume_ratio"] = N(r.HvRatio),
            ["hv_reference_minimised"] = (r.Config.HvReference ?? reference?.HvReference) is { } hr ? new JsonArray(hr.Select(x => N(x)).ToArray()) : null,
            ["elapsed_s"] = N(r.ElapsedS),
            ["queries_per_s"] = N(r.Seeds.Sum(s => s.Queries) / Math.Max(r.ElapsedS, 1e-9)),
            ["options"] = opts,
            ["config"] = cfg,
            ["versions"] = Versions(),
        };
        if (perSeed)
            o["per_seed"] = new JsonArray(r.Seeds.Select(s => (JsonNode)new JsonObject
            {
                ["seed"] = s.Seed,
                ["queries"] = s.Queries,
                ["cost"] = N(s.Cost),
                ["selected"] = s.SelectedKey,
                ["feasible"] = s.SelectedFeasible,
                ["valid"] = N(s.Selected?.Valid ?? double.NaN),
                ["test"] = N(s.Selected?.Test ?? double.NaN),
                ["latency"] = N(s.Selected?.Latency ?? double.NaN),
                ["queries_to_best"] = s.QueriesToBest,
                ["hypervolume"] = N(s.Hypervolume),
                ["elapsed_s"] = N(s.ElapsedS),
            }).ToArray());
        return o;
    }

    public static string HistoryCsv(SeedResult s)
    {
        var extras = s.History.SelectMany(h => h.M.Extra?.Keys ?? Enumerable.Empty<string>()).Distinct().OrderBy(k => k, StringComparer.Ordinal).ToList();
        var sb = new StringBuilder();
        sb.Append("query,key,valid,test,latency,cost");
        foreach (var e in extras) sb.Append(',').Append(e);
        sb.Append(",selected_valid,selected_test\n");
        for (int q = 0; q < s.History.Count; q++)
        {
            var (key, m) = s.History[q];
            sb.Append(q + 1).Append(',').Append(key.Contains(',') ? "\"" + key.Replace("\"", "\"\"") + "\"" : key)
              .Append(',').Append(F(m.Valid)).Append(',').Append(F(m.Test)).Append(',').Append(F(m.Latency)).Append(',').Append(F(m.Cost));
            foreach (var e in extras) sb.Append(',').Append(F(m.Get(e)));
            sb.Append(',').Append(F(s.AnytimeValid[q])).Append(',').Append(F(s.AnytimeTest[q])).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Writes summary.json, per-seed history CSVs and the plots into <paramref name="dir"/>; returns the summary.</summary>
    public static JsonObject Write(ProtocolResult r, string dir, IReadOnlyDictionary<string, object?> config)
    {
        var summary = Summary(r, config);
        foreach (var s in r.Seeds) AtomicFile.WriteAllText(Path.Combine(dir, "histories", $"seed_{s.Seed}.csv"), HistoryCsv(s));
        AnytimePlot(Path.Combine(dir, "anytime.png"), [r], $"{r.Strategy}: test accuracy of the selected architecture ({r.Seeds.Length} seeds)");
        if (r.Seeds.Any(s => s.AnytimeHv != null))
        {
            var (m, sd) = r.AnytimeHv();
            var xs = Enumerable.Range(1, m.Length).Select(i => (double)i).ToList();
            var series = new List<PlotSeries>
            {
                new($"{r.Strategy} (mean +- std)", xs, m) { YLow = m.Zip(sd, (a, b) => a - b).ToList(), YHigh = m.Zip(sd, (a, b) => a + b).ToList() },
            };
            if (r.Reference?.TrueFrontHv is { } t)
                series.Add(new("true front", [1, m.Length], [t, t]) { Color = "#000000", LineWidth = 1 });
            Plots.Lines(Path.Combine(dir, "hypervolume.png"), series,
                new PlotOptions { Title = "Hypervolume of all evaluated architectures", XLabel = "queries", YLabel = "hypervolume" });
            FrontPlot(Path.Combine(dir, "front.png"), r);
        }
        AtomicFile.WriteAllText(Path.Combine(dir, "summary.json"), summary.ToJsonString(Indented) + "\n");
        return summary;
    }

    /// <summary>Anytime curves of several strategies on one plot: mean over seeds (band: +- std) of the selected architecture's test accuracy.</summary>
    public static void AnytimePlot(string path, IEnumerable<ProtocolResult> results, string title)
    {
        var series = new List<PlotSeries>();
        double? bestTest = null;
        foreach (var r in results)
        {
            var (m, sd) = r.AnytimeTest();
            var xs = Enumerable.Range(1, m.Length).Select(i => (double)i).ToList();
            series.Add(new PlotSeries($"{r.Strategy} ({F2(r.MeanTest)})", xs, m)
            {
                YLow = m.Zip(sd, (a, b) => a - b).ToList(), YHigh = m.Zip(sd, (a, b) => a + b).ToList(),
            });
            bestTest ??= r.Reference?.BestTest;
        }
        int n = series.Count == 0 ? 1 : (int)series.Max(s => s.X.Count);
        if (bestTest is { } b && double.IsFinite(b)) series.Add(new PlotSeries($"best in table ({F2(b)})", [1, n], [b, b]) { Color = "#000000", LineWidth = 1 });
        // zoom on the interesting range: the mean curves from a tenth of the budget on, and the best of the table
        var curves = series.Take(series.Count - (bestTest is { } bt && double.IsFinite(bt) ? 1 : 0)).ToList();
        var ys = curves.SelectMany(c => c.Y.Skip(Math.Max(0, c.Y.Count / 10))).Where(double.IsFinite).ToList();
        if (bestTest is { } b2 && double.IsFinite(b2)) ys.Add(b2);
        double? ymin = null, ymax = null;
        if (ys.Count > 0)
        {
            double lo = ys.Min(), hi = ys.Max(), pad = Math.Max(0.05, (hi - lo) * 0.15);
            ymin = lo - pad; ymax = hi + pad;
        }
        Plots.Lines(path, series, new PlotOptions { Title = title, XLabel = "queries", YLabel = "test accuracy (%) of the selected architecture", YMin = ymin, YMax = ymax });
    }

    static string F2(double v) => double.IsFinite(v) ? v.ToString("F2", CultureInfo.InvariantCulture) : "n/a";

    static void FrontPlot(string path, ProtocolResult r)
    {
        var objs = r.Problem.Objectives;
        double Nat(int k, double v) => objs[k].Maximise ? -v : v;
        var series = new List<PlotSeries>();
        // points sorted by the x objective so that the staircase is drawn the right way round
        PlotSeries Stair(string label, List<double[]> pts, string? color, float width)
        {
            var xy = pts.Select(p => (X: Nat(1, p[1]), Y: Nat(0, p[0]))).OrderBy(p => p.X).ThenBy(p => p.Y).ToList();
            return new PlotSeries(label, xy.Select(p => p.X).ToList(), xy.Select(p => p.Y).ToList()) { Step = true, Color = color, LineWidth = width };
        }
        double? ymin = null;
        if (r.Reference?.TrueFront is { } tf)
        {
            series.Add(Stair("true front (table)", tf, "#000000", 2));
            // zoom past a lone extreme point (e.g. the empty cell: no latency, 10 % accuracy)
            var ys = tf.Select(p => Nat(0, p[0])).OrderBy(v => v).ToList();
            if (ys.Count > 3 && objs[0].Maximise) ymin = ys[1] - 0.05 * (ys[^1] - ys[1]);
        }
        foreach (var s in r.Seeds.Take(3))
            if (s.Front != null) series.Add(Stair($"seed {s.Seed} front", s.Front, null, 1));
        Plots.Scatter(path, series, new PlotOptions
        {
            Title = $"{r.Strategy}: Pareto fronts found vs the table's", XLabel = objs[1].Metric, YLabel = objs[0].Metric,
            Legend = objs[0].Maximise ? "lower-right" : "upper-right", YMin = ymin,
        });
    }

    /// <summary>Writes compare.json (summaries without per-seed rows) and anytime.png with every strategy on one plot.</summary>
    public static JsonObject WriteCompare(IReadOnlyList<ProtocolResult> results, string dir, IReadOnlyDictionary<string, object?> config, string title)
    {
        var arr = new JsonArray(results.Select(r => (JsonNode)Summary(r, config, perSeed: false)).ToArray());
        var o = new JsonObject { ["strategies"] = arr, ["versions"] = Versions() };
        AnytimePlot(Path.Combine(dir, "anytime.png"), results, title);
        AtomicFile.WriteAllText(Path.Combine(dir, "compare.json"), o.ToJsonString(Indented) + "\n");
        return o;
    }
}
