// Issue 4, item 8: reads the result files bench/single-path/compare.sh wrote, re-measures every final network
// of a dataset interleaved in this one process (separate processes drift on this machine), and writes
// compare.md (tables for bench/README.md), compare.json and compare-<dataset>.png (test accuracy against
// measured latency, one point per run).
// Usage: dotnet run -- RESULTS_DIR EXP_DIR
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tailor.Arch;
using Tailor.Hardware.Latency;
using Tailor.Reports;

if (args.Length < 2) { Console.Error.WriteLine("usage: SpnasCompare RESULTS_DIR EXP_DIR"); return 2; }
string res = args[0], exp = args[1];
var inv = CultureInfo.InvariantCulture;
var target = LatencyTargets.Parse("ort-cpu");
string[] arms = { "spnas", "random", "mbv2", "donna" };
var armName = new Dictionary<string, string> { ["spnas"] = "Single-Path NAS", ["random"] = "random search (trained)", ["mbv2"] = "mobilenet_v2 by width", ["donna"] = "DONNA (trained from scratch)" };
var armColor = new Dictionary<string, string> { ["spnas"] = "#d62728", ["random"] = "#1f77b4", ["mbv2"] = "#2ca02c", ["donna"] = "#9467bd" };
double Num(JsonNode? n) => n == null ? double.NaN : n.GetValue<double>();

// run files: ARM-DATASET-FRACTION-sSEED.json
var runs = new List<Run>();
foreach (var f in Directory.GetFiles(res, "*-s*.json").OrderBy(x => x, StringComparer.Ordinal))
{
    var name = Path.GetFileNameWithoutExtension(f);
    var p = name.Split('-');
    if (p.Length != 4 || !arms.Contains(p[0]) || p[3].Length < 2 || p[3][0] != 's' || !p[3][1..].All(char.IsAsciiDigit)) continue; // not the search/export files of the donna arm
    var j = JsonNode.Parse(File.ReadAllText(f))!;
    // the network: the run's arch.json; else (work folders of an earlier machine) the arm's arch file in the results
    // folder (mbv2, donna) or the run's summary (spnas, random: space, space config and per-layer choices)
    string archFile = Path.Combine(exp, name, "arch.json"), shared = Path.Combine(res, $"{p[0]}-{p[1]}-{p[2]}-arch.json");
    Architecture arch;
    if (File.Exists(archFile)) arch = ArchJson.Load(archFile);
    else if (File.Exists(shared)) arch = ArchJson.Load(shared);
    else if (j["space"] is JsonNode sp && j["space_config"] is JsonObject sc && j["arch"] is JsonNode names) arch = FromSummary((string)sp!, sc, ((string)names!).Split(' '));
    else { Console.Error.WriteLine($"{name}: {archFile} missing, skipped"); continue; }
    double acc = Num(j["test_acc"]);
    // search compute: process CPU seconds / torch threads (what random-train's budget is matched to); wall time is inflated by other load
    double cost = p[0] switch { "mbv2" => 0, _ => j["search_compute_seconds"] is { } cs ? Num(cs) : Num(j["search_seconds"]) };
    double train = Num(j["train_seconds"]);
    runs.Add(new Run(p[0], p[1], double.Parse(p[2], inv), int.Parse(p[3][1..], inv), arch, acc, cost, train, j));
}
if (runs.Count == 0) { Console.Error.WriteLine($"no results in {res}"); return 1; }

// targets (ms) per (dataset, fraction): the value every arm was given
var targets = new Dictionary<(string, double), double>();
foreach (var r in runs.Where(r => r.Arm == "spnas")) targets[(r.Dataset, r.Fraction)] = Num(r.Json["target_ms"]);

// re-measure per dataset, interleaved
var measured = new Dictionary<Run, ArchLatency>();
foreach (var g in runs.GroupBy(r => r.Dataset))
{
    var list = g.ToList();
    Console.Error.WriteLine($"{g.Key}: measuring {list.Count} networks interleaved on {target.Spec}...");
    // many rounds, and never fail: this shared host's noise comes and goes (unsettled medians are flagged in compare.json)
    var m = ArchLatencies.MeasureMany(target, list.Select(r => r.Arch).ToList(), 1, MeasureOptions.Default with { MaxError = 0.01, MinRounds = 10, MaxRounds = 80 }, throwUnsettled: false);
    foreach (var (r, x) in list.Zip(m).Where(p => !p.Second.Settled))
        Console.Error.WriteLine($"  {r.Arm}-{r.Dataset}-{r.Fraction}-s{r.Seed}: not settled (error {100 * x.Error:F1}%)");
    for (int i = 0; i < list.Count; i++) measured[list[i]] = m[i];
}

(double Mean, double Std) Ms(IEnumerable<double> xs)
{
    var a = xs.Where(double.IsFinite).ToArray();
    if (a.Length == 0) return (double.NaN, double.NaN);
    double mu = a.Average();
    return (mu, a.Length > 1 ? Math.Sqrt(a.Sum(v => (v - mu) * (v - mu)) / (a.Length - 1)) : 0);
}
string P(double v) => double.IsFinite(v) ? (100 * v).ToString("F2", inv) : "-";

var md = new StringBuilder();
var outJson = new JsonArray();
md.AppendLine($"Machine: {MachineInfo.Current}; re-measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {target.Spec} ({target.Runtime}), all networks of a dataset interleaved.");
md.AppendLine();
md.AppendLine("| dataset | target (ms) | method | test acc (mean ± std, seeds) | measured latency (ms, mean) | vs target | search compute (s, mean) | params (mean) | MACs (mean) |");
md.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|");
var verdicts = new List<string>();
foreach (var g in runs.GroupBy(r => (r.Dataset, r.Fraction)).OrderBy(g => g.Key.Dataset).ThenBy(g => g.Key.Fraction))
{
    double t = targets.TryGetValue(g.Key, out var tt) ? tt : double.NaN;
    var stats = new Dictionary<string, (double Acc, double Std, double Lat, int N)>();
    foreach (var arm in arms)
    {
        var rs = g.Where(r => r.Arm == arm).OrderBy(r => r.Seed).ToList();
        if (rs.Count == 0) continue;
        var (acc, sd) = Ms(rs.Select(r => r.TestAcc));
        double lat = rs.Average(r => measured[r].MedianMs);
        var an = rs.Select(r => ArchAnalysis.Analyze(r.Arch)).ToList();
        stats[arm] = (acc, sd, lat, rs.Count);
        md.AppendLine($"| {g.Key.Dataset} | {t:F3} (F={g.Key.Fraction.ToString(inv)}) | {armName[arm]} | {P(acc)} ± {P(sd)} ({rs.Count}) | {lat:F3} | {100 * (lat / t - 1):+0.0;-0.0}% | " +
                      $"{(arm == "mbv2" ? "-" : rs.Average(r => r.SearchSeconds).ToString("F0", inv))} | {an.Average(a => a.Params):N0} | {an.Average(a => a.Macs) / 1e6:F2}M |");
        foreach (var r in rs)
            outJson.Add(new JsonObject
            {
                ["arm"] = arm, ["dataset"] = r.Dataset, ["fraction"] = r.Fraction, ["seed"] = r.Seed, ["target_ms"] = t, ["test_acc"] = r.TestAcc,
                ["measured_ms"] = measured[r].MedianMs, ["measured_iqr_ms"] = measured[r].IqrMs, ["measured_settled"] = measured[r].Settled, ["search_seconds"] = r.SearchSeconds, ["train_seconds"] = r.TrainSeconds,
                ["arch"] = r.Arch.Name, ["params"] = ArchAnalysis.Analyze(r.Arch).Params, ["macs"] = ArchAnalysis.Analyze(r.Arch).Macs,
            });
    }
    foreach (var (mine, others) in new[] { ("spnas", new[] { "random", "mbv2" }), ("donna", new[] { "mbv2", "spnas", "random" }) })
        if (stats.TryGetValue(mine, out var s))
            foreach (var other in others)
                if (stats.TryGetValue(other, out var o))
                {
                    double rel = s.Lat / o.Lat - 1;
                    string me = armName[mine];
                    string lat = Math.Abs(rel) <= 0.05 ? "equal within 5%" : rel < 0 ? $"{me} {100 * -rel:F0}% faster" : $"{me} {100 * rel:F0}% SLOWER: not a fair win";
                    verdicts.Add($"{g.Key.Dataset} at {t:F3} ms: {me} {P(s.Acc)}% vs {armName[other]} {P(o.Acc)}% " +
                                 $"({(s.Acc > o.Acc ? "beats" : "does not beat")} by {100 * (s.Acc - o.Acc):+0.00;-0.00} points, seed std {P(s.Std)} / {P(o.Std)}; latencies {s.Lat:F3} vs {o.Lat:F3} ms, {lat})");
                }
}
md.AppendLine();
foreach (var v in verdicts) md.AppendLine("- " + v);
File.WriteAllText(Path.Combine(res, "compare.md"), md.ToString());
File.WriteAllText(Path.Combine(res, "compare.json"), outJson.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

foreach (var g in runs.GroupBy(r => r.Dataset))
{
    var series = new List<PlotSeries>();
    foreach (var arm in arms)
    {
        var rs = g.Where(r => r.Arm == arm && double.IsFinite(r.TestAcc)).ToList();
        if (rs.Count == 0) continue;
        series.Add(new PlotSeries(armName[arm], rs.Select(r => measured[r].MedianMs).ToList(), rs.Select(r => 100 * r.TestAcc).ToList())
            { Lines = false, MarkerSize = 9, Color = armColor[arm] });
    }
    foreach (var (k, t) in targets.Where(kv => kv.Key.Item1 == g.Key))
    {
        var ys = g.Where(r => double.IsFinite(r.TestAcc)).Select(r => 100 * r.TestAcc).ToList();
        series.Add(new PlotSeries($"target {t:F3} ms", new[] { t, t }, new[] { ys.Min(), ys.Max() }) { Color = "#7f7f7f", LineWidth = 1 });
    }
    Plots.Scatter(Path.Combine(res, $"compare-{g.Key}.png"), series, new PlotOptions
    {
        Title = $"{g.Key}: test accuracy vs measured latency ({target.Spec}), seeds 0-2",
        XLabel = "measured latency (ms)", YLabel = "test accuracy (%)", Legend = "lower-right",
    });
}
Console.Write(md.ToString());
return 0;

// An spnas-* network from a search summary: the space rebuilt from its recorded options, each layer's choice by name.
static Architecture FromSummary(string space, JsonObject cfg, string[] names)
{
    var sp = Spaces.FromConfig(space, cfg.ToDictionary(kv => kv.Key, kv => (string)kv.Value!));
    if (names.Length != sp.LayerCount) throw new InvalidDataException($"{space}: {names.Length} layer choices recorded, the space has {sp.LayerCount}");
    var choice = names.Select((n, l) => sp.Choices(l).Select(c => c.Name).ToList().IndexOf(n)).ToArray();
    if (choice.Any(c => c < 0)) throw new InvalidDataException($"{space}: a recorded choice is not a candidate of its layer ({string.Join(" ", names)})");
    return sp.Build(choice);
}

sealed record Run(string Arm, string Dataset, double Fraction, int Seed, Architecture Arch, double TestAcc, double SearchSeconds, double TrainSeconds, JsonNode Json);
