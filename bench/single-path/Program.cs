// Per-step training time and peak memory of (a) the single-path supernet, (b) the largest child
// network (all 5x5-6) alone, (c) a multi-path (DARTS-style mixed op) supernet over the same space,
// on real Fashion-MNIST batches. Time: the three interleaved in this one process (separate
// processes drift on this machine). Memory: `--memory VARIANT` runs one variant alone and reports
// its peak RSS growth over the steps (VmHWM - VmRSS before the first step; malloc never trims).
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Models;
using Tailor.Models.SinglePath;
using Tailor.Training.Optimizers;
using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

var opt = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2) opt[args[i].TrimStart('-')] = args[i + 1];
string Get(string k, string d) => opt.TryGetValue(k, out var v) ? v : d;
int threads = int.Parse(Get("threads", "2")), batch = int.Parse(Get("batch", "128"));
int steps = int.Parse(Get("steps", "5")), rounds = int.Parse(Get("rounds", "3")), warmup = int.Parse(Get("warmup", "2"));
double width = double.Parse(Get("width", "1.0"), CultureInfo.InvariantCulture);
string space = Get("space", "spnas-fmnist");
string? memory = opt.GetValueOrDefault("memory");

NativeTuning.TuneMalloc();
set_num_threads(threads);
manual_seed(0);
var sp = Spaces.Get(space, new SpnasOptions { Width = width });
var data = Datasets.Open(Get("data", space == "spnas-cifar" ? "cifar10" : "fashion-mnist")).Train;
if (data.Shape != sp.Input) { Console.Error.WriteLine($"data {data.Shape} does not fit space {sp.Input}"); return 1; }
using var loader = new Tailor.Data.DataLoader(data.Subset(Enumerable.Range(0, batch).ToArray()), batch, Normalization.Of(data), shuffle: false) { ChannelsLast = true }; // as the search does
var b0 = loader.Batches().First();
var x = b0.Images.clone(); var y = b0.Labels.clone();

int[] largest = Enumerable.Range(0, sp.LayerCount).Select(l => sp.Choices(l).ToList().FindIndex(c => c.Name == "k5_e6")).ToArray();
nn.Module<Tensor, Tensor> Make(string v) => v switch
{
    "single-path" => new SinglePathSupernet(sp),
    // the paper's formulation: masks on the superkernel only, no channel mask on the expanded activations
    "single-path-faithful" => new SinglePathSupernet(sp, SupernetOptions.Faithful),
    "child" => new ConvNet(sp.Build(largest), BuildOptions.TensorFlow),
    "multi-path" => new MultiPathSupernet(sp),
    _ => throw new ArgumentException(v),
};
string[] variants = { "single-path", "single-path-faithful", "child", "multi-path" };

static long StatusKb(string key)
{
    foreach (var line in File.ReadLines("/proc/self/status"))
        if (line.StartsWith(key + ":")) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    return -1;
}

if (memory != null)
{
    using var m = Make(memory);
    m.train();
    var o = new RMSPropTF(m.parameters(), 0.008);
    long before = StatusKb("VmRSS");
    for (int s = 0; s < steps; s++) Step(m, o);
    long peak = StatusKb("VmHWM");
    Console.WriteLine(JsonSerializer.Serialize(new { variant = memory, threads, batch, peak_growth_mb = (peak - before) / 1024.0, rss_before_mb = before / 1024.0 }));
    return 0;
}

var models = variants.ToDictionary(v => v, Make);
var opts = models.ToDictionary(kv => kv.Key, kv => (OptimizerHelper)new RMSPropTF(kv.Value.parameters(), 0.008));
foreach (var m in models.Values) m.train();
foreach (var v in variants) for (int s = 0; s < warmup; s++) Step(models[v], opts[v]);
var times = variants.ToDictionary(v => v, _ => new List<double>());
for (int r = 0; r < rounds; r++)
    for (int i = 0; i < variants.Length; i++)
    {
        var v = variants[(i + r) % variants.Length]; // rotate the order every round
        for (int s = 0; s < steps; s++)
        {
            var sw = Stopwatch.StartNew();
            Step(models[v], opts[v]);
            times[v].Add(sw.Elapsed.TotalMilliseconds);
        }
    }
double Median(List<double> a) { var s = a.OrderBy(t => t).ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
var med = variants.ToDictionary(v => v, v => Median(times[v]));
Console.WriteLine(JsonSerializer.Serialize(new
{
    space, width, threads, batch, steps_per_variant = steps * rounds,
    single_path_ms = med["single-path"], single_path_faithful_ms = med["single-path-faithful"], child_ms = med["child"], multi_path_ms = med["multi-path"],
    single_over_child = med["single-path"] / med["child"], faithful_over_child = med["single-path-faithful"] / med["child"],
    multi_over_single = med["multi-path"] / med["single-path"],
    load = File.ReadAllText("/proc/loadavg").Trim(),
}));
return 0;

void Step(nn.Module<Tensor, Tensor> m, OptimizerHelper o)
{
    using var scope = NewDisposeScope();
    var loss = nn.functional.cross_entropy(m.call(x), y, label_smoothing: 0.1);
    o.zero_grad();
    loss.backward();
    o.step();
}
