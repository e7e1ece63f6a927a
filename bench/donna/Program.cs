// DONNA comparison (issue 6, items 6 and 8): reads the files bench/donna/run.sh wrote into a results
// folder and writes compare.png (test accuracy against measured latency for every network) and
// compare.md (the tables for bench/README.md).
// Usage: dotnet run -- RESULTS_DIR
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Tailor.Reports;
using Tailor.Search.Donna;

string dir = args.Length > 0 ? args[0] : throw new ArgumentException("usage: DonnaCompare RESULTS_DIR");
JsonNode Load(string f) => JsonNode.Parse(File.ReadAllText(Path.Combine(dir, f)))!;
double N(JsonNode? n) => DonnaConfig.Num(n);
string P(double v) => double.IsFinite(v) ? (100 * v).ToString("F2", CultureInfo.InvariantCulture) : "-";
string M(double v) => double.IsFinite(v) ? v.ToString("F3", CultureInfo.InvariantCulture) : "-";

var md = new StringBuilder();
var series = new List<PlotSeries>();

// the predicted front of the unconstrained search
var summary = Load("summary.json");
var pareto = JsonNode.Parse(File.ReadAllText(Path.Combine((string)summary["search"]!["folder"]!, "pareto.json")))!;
var front = pareto["front"]!.AsArray();
series.Add(new PlotSeries("DONNA front (predicted val acc)", front.Select(p => N(p!["latency_ms"])).ToList(), front.Select(p => 100 * N(p!["predicted_acc"])).ToList())
    { Step = true, Markers = true, Color = "#9ecae1" });

// finetune (from BKD, E/3 epochs) vs scratch (E epochs), per architecture: mean and std over seeds
var ft = Load("finetune-bkd.json").AsArray().Select(x => x!).ToList();
var sc = Load("finetune-scratch.json").AsArray().Select(x => x!).ToList();
md.AppendLine("| architecture | latency (ms) | from BKD + distillation: epochs | test acc (mean ± std, seeds) | from scratch: epochs | test acc (mean ± std, seeds) | BKD >= scratch |");
md.AppendLine("|---|---:|---:|---:|---:|---:|---|");
(double Mean, double Std, int N) Ms(IEnumerable<double> xs) { var a = xs.ToArray(); double m = a.Average(); return (m, a.Length > 1 ? Math.Sqrt(a.Sum(v => (v - m) * (v - m)) / (a.Length - 1)) : 0, a.Length); }
var ftPts = new List<(double Ms, double Acc)>(); var scPts = new List<(double Ms, double Acc)>();
foreach (var g in ft.GroupBy(x => (string)x["key"]!))
{
    var s = sc.Where(x => (string?)x["key"] == g.Key).ToList();
    var a = Ms(g.Select(x => N(x["test_acc"]))); var b = s.Count > 0 ? Ms(s.Select(x => N(x["test_acc"]))) : (Mean: double.NaN, Std: double.NaN, N: 0);
    double lat = N(g.First()["latency_ms"]);
    ftPts.Add((lat, a.Mean)); if (s.Count > 0) scPts.Add((lat, b.Mean));
    md.AppendLine($"| `{g.Key}` | {M(lat)} | {g.First()["epochs"]} | {P(a.Mean)} ± {P(a.Std)} ({a.N}) | {(s.Count > 0 ? s[0]["epochs"] : "-")} | {P(b.Mean)} ± {P(b.Std)} ({b.N}) | {(a.Mean >= b.Mean ? "yes" : "no")} |");
}
series.Add(new PlotSeries("DONNA, finetuned from BKD (test acc)", ftPts.Select(p => p.Ms).ToList(), ftPts.Select(p => 100 * p.Acc).ToList()) { Lines = false, MarkerSize = 9, Color = "#1f77b4" });
series.Add(new PlotSeries("DONNA archs from scratch (test acc)", scPts.Select(p => p.Ms).ToList(), scPts.Select(p => 100 * p.Acc).ToList()) { Lines = false, MarkerSize = 9, Color = "#2ca02c" });

// width-scaled mobilenet_v2 baselines, from scratch
md.AppendLine();
md.AppendLine("| baseline | params | MACs | latency (ms) | epochs | test acc |");
md.AppendLine("|---|---:|---:|---:|---:|---:|");
var bl = new List<(double Ms, double Acc)>();
foreach (var f in Directory.GetFiles(dir, "baseline-w*.json").Where(f => !f.EndsWith("-latency.json")).OrderBy(f => f, StringComparer.Ordinal))
{
    var t = JsonNode.Parse(File.ReadAllText(f))!;
    var l = JsonNode.Parse(File.ReadAllText(f.Replace(".json", "-latency.json")))!;
    double ms = N(l["median_ms"]), acc = N(t["test_acc"]);
    bl.Add((ms, acc));
    md.AppendLine($"| {t["arch"]} | {t["params"]} | {t["macs"]} | {M(ms)} | {t["epochs"]} | {P(acc)} |");
}
series.Add(new PlotSeries("mobilenet_v2 width-scaled, from scratch (test acc)", bl.Select(p => p.Ms).ToList(), bl.Select(p => 100 * p.Acc).ToList()) { Markers = true, MarkerSize = 8, Color = "#d62728" });
int dominated = bl.Count(b => ftPts.Concat(scPts).Any(d => d.Ms <= b.Ms && d.Acc >= b.Acc));
md.AppendLine();
md.AppendLine($"Baselines dominated (a DONNA network at most as slow and at least as accurate): {dominated} of {bl.Count}.");
Plots.Scatter(Path.Combine(dir, "compare.png"), series, new PlotOptions
{
    Title = "DONNA vs width-scaled MobileNetV2 (CIFAR-10 subset, ort-cpu 1 thread)", XLabel = "latency (ms, measured, ONNX Runtime 1 thread)", YLabel = "accuracy (%)", Legend = "lower-right",
});
File.WriteAllText(Path.Combine(dir, "compare.md"), md.ToString());
Console.Write(md.ToString());
