// Training throughput of Tailor (TorchSharp / libtorch) for MobileNetV2 on 32x32x3 input, batch 128.
// Prints one JSON line. The PyTorch side is mobilenet_torch.py; run.sh runs both, interleaved.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Models;
using Tailor.Training;
using Tailor.Util;
using TorchSharp;
using static TorchSharp.torch;

var opt = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2) opt[args[i].TrimStart('-')] = args[i + 1];
string Get(string k, string d) => opt.TryGetValue(k, out var v) ? v : d;
double width = double.Parse(Get("width", "1.0"), CultureInfo.InvariantCulture);
int threads = int.Parse(Get("threads", "2")), batch = int.Parse(Get("batch", "128"));
int warmup = int.Parse(Get("warmup", "3")), steps = int.Parse(Get("steps", "10"));
string mode = Get("mode", "step"); // step: one fixed batch; pipeline: CIFAR-10 subset through DataLoader (shuffle + crop/flip)
string? archOut = opt.GetValueOrDefault("arch-out");

ThreadTuning.PreferPassiveWait(); // as tailor train does; OMP_WAIT_POLICY or GOMP_SPINCOUNT in the environment win
NativeTuning.TuneMalloc();
Depthwise.FastSmallMaps = Get("fast-dw", "1") == "1"; // --fast-dw 0: plain nn.Conv2d everywhere (for the A/B in bench/README.md)
torch.set_num_threads(threads);
if (mode == "ops") { Ops.Run(int.Parse(Get("reps", "10"))); return 0; }
if (mode == "dw") { DwOps.Run(int.Parse(Get("reps", "10"))); return 0; }
torch.manual_seed(0);
var arch = WidthScaling.Scale(Zoo.Get("mobilenet_v2", new InputShape(3, 32, 32), 10), width);
if (archOut != null) File.WriteAllText(archOut, ArchJson.Write(arch));
if (opt.ContainsKey("arch-only")) return 0;
using var net = new ConvNet(arch);
var cfg = new TrainConfig { Epochs = 1, BatchSize = batch, Optimizer = "sgd", Lr = 0.01, Momentum = 0.9, WeightDecay = 4e-5, LabelSmoothing = 0.1, Schedule = "constant" };

ImageDataset data;
string cifar = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../shared/data/cifar-10-subset"));
// real images on both sides: the CIFAR-10 subset (step mode: its first batch, as mobilenet_torch.py reads it)
if (!Directory.Exists(cifar)) { Console.Error.WriteLine($"missing {cifar}"); return 1; }
data = Datasets.Open($"cifar10:{cifar}").Train;
if (mode != "pipeline") data = data.Subset(Enumerable.Range(0, batch).ToArray(), "cifar10-first-batch");
var norm = Normalization.Of(data);
using var loader = new Tailor.Data.DataLoader(data, batch, norm, shuffle: true, augment: Augmentation.CropFlip, dropLast: true);
// --cl 0: NCHW batches instead of the trainer's default channels-last (for the A/B in bench/README.md)
var trainer = new Trainer(net, cfg, loader) { ReleaseActivationsBeforeBackward = Get("release", "0") == "1", ChannelsLast = Get("cl", "1") == "1" };
net.train();

var times = new List<double>();
var cpuTimes = new List<double>();
var dataRng = new Rng(2);
// phase clocks through the trainer's hooks: forward | loss + backward | optimizer | item() + accuracy
var phase = new Stopwatch();
double tFwd = 0, tBwd = 0, tOpt = 0;
var fwd = new List<double>(); var bwd = new List<double>(); var optim = new List<double>(); var rest = new List<double>();
var ce = trainer.Criterion;
trainer.Criterion = ctx => { tFwd = phase.Elapsed.TotalSeconds; return ce(ctx); };
trainer.BeforeOptimizerStep = _ => tBwd = phase.Elapsed.TotalSeconds;
trainer.AfterStep = _ => tOpt = phase.Elapsed.TotalSeconds;
var proc = Process.GetCurrentProcess();
void Record(int s, double total, double cpu)
{
    if (s < warmup) return;
    times.Add(total); cpuTimes.Add(cpu);
    fwd.Add(tFwd); bwd.Add(tBwd - tFwd); optim.Add(tOpt - tBwd); rest.Add(phase.Elapsed.TotalSeconds - tOpt);
}
double Cpu() { proc.Refresh(); return proc.TotalProcessorTime.TotalSeconds; }
if (mode == "pipeline")
{
    // the full loop: batch assembly (shuffle, crop, flip, normalise) + step, as Trainer.RunEpoch does
    var sw = Stopwatch.StartNew();
    int done = 0;
    double c0 = Cpu();
    while (done < warmup + steps)
        foreach (var b in loader.Batches(dataRng))
        {
            phase.Restart();
            trainer.TrainStep(b.Images, b.Labels, b.Index);
            double t = sw.Elapsed.TotalSeconds; sw.Restart();
            double c1 = Cpu();
            Record(done++, t, c1 - c0);
            c0 = c1;
            if (done >= warmup + steps) break;
        }
}
else
{
    var b = loader.Batches(dataRng).First();
    using var x = b.Images.clone();
    using var y = b.Labels.clone();
    for (int s = 0; s < warmup + steps; s++)
    {
        double c0 = Cpu();
        phase.Restart();
        trainer.TrainStep(x, y);
        double t = phase.Elapsed.TotalSeconds;
        Record(s, t, Cpu() - c0);
    }
}
static double Median(List<double> v) { var c = v.OrderBy(x => x).ToList(); return c.Count % 2 == 1 ? c[c.Count / 2] : (c[c.Count / 2 - 1] + c[c.Count / 2]) / 2; }
double median = Median(times);
Console.WriteLine(JsonSerializer.Serialize(new
{
    impl = "tailor", mode, width, threads, batch, warmup, steps, release = trainer.ReleaseActivationsBeforeBackward, fast_dw = Depthwise.FastSmallMaps, channels_last = trainer.ChannelsLast, omp_wait = ThreadTuning.Describe(),
    @params = net.ParameterCount(),
    median_step_s = Math.Round(median, 5),
    mean_step_s = Math.Round(times.Average(), 5),
    images_per_s = Math.Round(batch / median, 2),
    median_cpu_s = Math.Round(Median(cpuTimes), 5),
    phases_s = new { forward = Math.Round(Median(fwd), 5), loss_backward = Math.Round(Median(bwd), 5), optimizer = Math.Round(Median(optim), 5), item = Math.Round(Median(rest), 5) },
    step_s = times.Select(t => Math.Round(t, 4)),
    versions = $"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}",
}));
return 0;
