using System.Diagnostics;
using Tailor.Arch;
using Tailor.Hardware.Latency;
using Tailor.Util;

Tailor.Util.NativeTuning.TuneMalloc();
string cmd = args.Length > 0 ? args[0] : "noise";
if (cmd == "noise")
{
    // How stable are median / low quantiles / min of a measurement across repeats under the current load?
    var t = new OrtCpuTarget(1);
    var arch = Zoo.Get(args.Length > 1 ? args[1] : "mobilenet_v2", new InputShape(3, 32, 32), 10);
    using var m = t.Prepare(arch);
    int reps = 20;
    var stats = new Dictionary<string, List<double>> { ["median"] = new(), ["p25"] = new(), ["p10"] = new(), ["min"] = new() };
    for (int r = 0; r < reps; r++)
    {
        for (int w = 0; w < 10; w++) m.Run();
        var s = new List<double>();
        for (int i = 0; i < 90; i++) { long t0 = Stopwatch.GetTimestamp(); m.Run(); s.Add((Stopwatch.GetTimestamp() - t0) * 1000.0 / Stopwatch.Frequency); }
        stats["median"].Add(Stats.Median(s)); stats["p25"].Add(Stats.Quantile(s, 0.25)); stats["p10"].Add(Stats.Quantile(s, 0.10)); stats["min"].Add(s.Min());
        Thread.Sleep(200);
    }
    foreach (var (k, v) in stats) Console.WriteLine($"{k,-7} mean {v.Average():F4} ms  cv {Stats.Cv(v) * 100:F1}%  range {v.Min():F4}..{v.Max():F4}");
    Console.WriteLine($"load {MachineInfo.LoadAverage()}");
}
if (cmd == "trace")
{
    var t = new OrtCpuTarget(1);
    var arch = Zoo.Get(args.Length > 1 ? args[1] : "mobilenet_v2", new InputShape(3, 32, 32), 10);
    using var m = t.Prepare(arch);
    for (int w = 0; w < 20; w++) m.Run();
    var s = new List<double>();
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < 4000; i++) { long t0 = Stopwatch.GetTimestamp(); m.Run(); s.Add((Stopwatch.GetTimestamp() - t0) * 1000.0 / Stopwatch.Frequency); }
    for (int i = 0; i < 4000; i += 100)
    {
        var w = s.Skip(i).Take(100).ToList();
        Console.WriteLine($"{i,5}: min {w.Min():F3} p25 {Stats.Quantile(w, 0.25):F3} med {Stats.Median(w):F3} p90 {Stats.Quantile(w, 0.9):F3}");
    }
    Console.WriteLine($"total {sw.Elapsed.TotalSeconds:F1}s load {MachineInfo.LoadAverage()}");
}
if (cmd == "stat")
{
    var t = new OrtCpuTarget(1);
    var names = new[] { "mobilenet_v2", "mnasnet_a1", "fbnet_c", "efficientnet_b0", "spnasnet" };
    var models = names.Select(n => t.Prepare(Zoo.Get(n, new InputShape(3, 32, 32), 10))).ToList();
    int reps = int.Parse(args.Length > 1 ? args[1] : "6"), rounds = int.Parse(args.Length > 2 ? args[2] : "30");
    var res = new Dictionary<string, double[,]> { ["med"] = new double[reps, names.Length], ["p25"] = new double[reps, names.Length], ["p10"] = new double[reps, names.Length], ["min"] = new double[reps, names.Length] };
    foreach (var m in models) for (int w = 0; w < 10; w++) m.Run();
    for (int rep = 0; rep < reps; rep++)
    {
        var med = names.Select(_ => new List<double>()).ToList();
        for (int r = 0; r < rounds; r++)
            for (int j = 0; j < models.Count; j++)
            {
                int i = (j + r) % models.Count;
                var s = new List<double>();
                for (int k = 0; k < 15; k++) { long t0 = Stopwatch.GetTimestamp(); models[i].Run(); s.Add((Stopwatch.GetTimestamp() - t0) * 1000.0 / Stopwatch.Frequency); }
                med[i].Add(Stats.Median(s));
            }
        for (int i = 0; i < names.Length; i++)
        {
            res["med"][rep, i] = Stats.Median(med[i]); res["p25"][rep, i] = Stats.Quantile(med[i], 0.25);
            res["p10"][rep, i] = Stats.Quantile(med[i], 0.10); res["min"][rep, i] = med[i].Min();
        }
    }
    foreach (var (k, v) in res)
    {
        var cvs = Enumerable.Range(0, names.Length).Select(i => Stats.Cv(Enumerable.Range(0, reps).Select(r => v[r, i]).ToList())).ToList();
        // ratio to model 0 across repeats
        var rcv = Enumerable.Range(1, names.Length - 1).Select(i => Stats.Cv(Enumerable.Range(0, reps).Select(r => v[r, i] / v[r, 0]).ToList())).ToList();
        Console.WriteLine($"{k,-4} cv per model: {string.Join(" ", cvs.Select(c => (c * 100).ToString("F1")))}   ratio cv: {string.Join(" ", rcv.Select(c => (c * 100).ToString("F1")))}  means: {string.Join(" ", Enumerable.Range(0, names.Length).Select(i => Enumerable.Range(0, reps).Average(r => v[r, i]).ToString("F3")))}");
    }
    Console.WriteLine($"load {MachineInfo.LoadAverage()}");
}
if (cmd == "gbdt")
{
    var enc = Tailor.Hardware.Predictors.ArchEncodings.Parse(args[1]);
    var data = Tailor.Hardware.Predictors.LatencyCsv.Load(args[2], enc, args[3]);
    var idx = Enumerable.Range(0, data.Count).ToArray();
    new Random(0).Shuffle(idx);
    var tr = idx.Take(1000).ToArray(); var te = idx.Skip(1000).Take(2000).ToArray();
    TorchSharp.torch.set_num_threads(1);
    foreach (var mo in new[] { new Tailor.Hardware.Predictors.MlpOptions(), new Tailor.Hardware.Predictors.MlpOptions { WeightDecay = 1e-3 }, new Tailor.Hardware.Predictors.MlpOptions { LearningRate = 3e-3 },
                               new Tailor.Hardware.Predictors.MlpOptions { HiddenLayers = 0 } })
    {
        var sw = Stopwatch.StartNew();
        using var p = Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, tr.Select(i => data.Choices[i]).ToList(), tr.Select(i => data.Latency[i]).ToList(), 0, mo);
        var m = Tailor.Hardware.PredictionMetrics.Of(p.Predict(te.Select(i => data.Choices[i]).ToList()), te.Select(i => data.Latency[i]).ToArray());
        Console.WriteLine($"mlp wd {mo.WeightDecay} layers {mo.HiddenLayers} steps {p.TrainedSteps}: {m} ({sw.Elapsed.TotalSeconds:F1}s)");
    }
    if (args.Length > 4) return;
    foreach (var (trees, leaves, lr, minleaf) in new[] { (2000, 2, 0.3, 5), (3000, 4, 0.1, 5), (3000, 8, 0.05, 5), (5000, 3, 0.2, 2) })
    {
        var sw = Stopwatch.StartNew();
        using var p = Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, tr.Select(i => data.Choices[i]).ToList(), tr.Select(i => data.Latency[i]).ToList(), 0,
            new Tailor.Hardware.Predictors.GbdtOptions { Trees = trees, Leaves = leaves, LearningRate = lr, MinLeafExamples = minleaf });
        var m = Tailor.Hardware.PredictionMetrics.Of(p.Predict(te.Select(i => data.Choices[i]).ToList()), te.Select(i => data.Latency[i]).ToArray());
        Console.WriteLine($"trees {trees} leaves {leaves} lr {lr} minleaf {minleaf}: {m} ({sw.Elapsed.TotalSeconds:F1}s)");
    }
}
if (cmd == "ratio")
{
    // Is fixed + sum of isolated blocks = whole network? All models interleaved in the same rounds, so load hits all alike.
    var t = new OrtCpuTarget(1);
    var space = Spaces.Get(args.Length > 1 ? args[1] : "spnas-cifar");
    int evict = args.Length > 2 ? int.Parse(args[2]) : 0;
    int nArch = args.Length > 3 ? int.Parse(args[3]) : 3;
    var rng = new Random(5);
    var models = new List<ILatencyModel>(); var owner = new List<(int Arch, int Row)>();
    var archs = Enumerable.Range(0, nArch).Select(_ => space.Build(space.Sample(rng))).ToList();
    for (int a = 0; a < archs.Count; a++)
    {
        models.Add(t.Prepare(archs[a])); owner.Add((a, -1));
        var an = ArchAnalysis.Analyze(archs[a]);
        for (int r = 0; r < an.Layers.Count; r++)
        {
            if (an.Layers[r].Kind == "skip") continue;
            var m = t.PrepareSegment(archs[a], an, r, r + 1);
            ((OrtCpuTarget.OrtModel)m).EvictBytes = evict;
            models.Add(m); owner.Add((a, r));
        }
    }
    var ov = t.PrepareOverhead(3, 32, 32); models.Add(ov); owner.Add((-1, -1));
    var sw = Stopwatch.StartNew();
    var res = LatencyMeter.MeasureMany(models, new MeasureOptions { MinRounds = 30, MaxRounds = 30, MaxError = 1 });
    double o = res[^1].MedianMs;
    for (int a = 0; a < archs.Count; a++)
    {
        double full = 0, sum = o; int n = 0;
        for (int i = 0; i < owner.Count; i++)
        {
            if (owner[i].Arch != a) continue;
            if (owner[i].Row < 0) full = res[i].MedianMs; else { sum += res[i].MedianMs - o; n++; }
        }
        Console.WriteLine($"{archs[a].Name}: full {full:F3} ms, sum of {n} blocks {sum:F3} ms, full/sum {full / sum:F3}");
    }
    Console.WriteLine($"overhead {o:F4} ms, evict {evict} B, {sw.Elapsed.TotalSeconds:F0} s, load {MachineInfo.LoadAverage()}");
}
if (cmd == "clockres")
{
    var vals = new List<long>();
    long prev = ThreadClock.Nanoseconds();
    for (int i = 0; i < 20; i++) { long x; do { x = ThreadClock.Nanoseconds(); } while (x == prev); vals.Add(x - prev); prev = x; }
    Console.WriteLine("thread clock steps (ns): " + string.Join(" ", vals));
}
if (cmd == "noise-floor")
{
    // NB201 cells that compute the same function: with edge 2<-1 = none, nodes 1 and 2 are interchangeable,
    // so (a, b, none, x, c, d) and (b, a, none, x, d, c) are the same network. Their measured latencies
    // differ only by measurement noise: the ceiling of any predictor's within +-10%.
    string csv = args[1];
    var enc = new Tailor.Hardware.Predictors.Nb201Encoding();
    var header = File.ReadLines(csv).First().Split(',');
    Console.WriteLine("| column | isomorphic pairs | median abs diff / mean | p90 | one within +-10% of the other |");
    Console.WriteLine("|---|---|---|---|---|");
    foreach (var col in header.Where(h => h.StartsWith("latency")))
    {
        var data = Tailor.Hardware.Predictors.LatencyCsv.Load(csv, enc, col);
        var map = new Dictionary<string, double>();
        for (int i = 0; i < data.Count; i++) map[string.Join(",", data.Choices[i])] = data.Latency[i];
        var rel = new List<double>(); int within = 0;
        foreach (var (k, v) in map)
        {
            var c = k.Split(',').Select(int.Parse).ToArray();
            if (c[2] != 0) continue;
            var sw = new[] { c[1], c[0], 0, c[3], c[5], c[4] };
            string ks = string.Join(",", sw);
            if (ks == k || string.CompareOrdinal(k, ks) > 0 || !map.TryGetValue(ks, out var v2)) continue;
            rel.Add(Math.Abs(v - v2) / ((v + v2) / 2));
            if (Math.Abs(v - v2) <= 0.1 * v2) within++;
        }
        Console.WriteLine($"| {col} | {rel.Count} | {Stats.Median(rel) * 100:F1}% | {Stats.Quantile(rel, 0.9) * 100:F1}% | {within * 100.0 / rel.Count:F1}% |");
    }
}
if (cmd == "cpustat")
{
    // Repeatability of statistics of thread-CPU-time runs under the current load: 5 zoo nets, interleaved, K repeats.
    var t = new OrtCpuTarget(1);
    var names = new[] { "mobilenet_v2", "mnasnet_a1", "fbnet_c", "efficientnet_b0", "spnasnet" };
    var models = names.Select(n => t.Prepare(Zoo.Get(n, new InputShape(3, 32, 32), 10))).ToList();
    int reps = int.Parse(args.Length > 1 ? args[1] : "6");
    var keys = new[] { "med-of-round-med", "p25", "p10", "min" };
    var res = keys.ToDictionary(k => k, _ => new double[reps, names.Length]);
    for (int rep = 0; rep < reps; rep++)
    {
        var r = LatencyMeter.MeasureMany(models, new MeasureOptions { MinRounds = 20, MaxRounds = 20, MaxError = 1 }, throwUnsettled: false);
        // re-derive quantiles from round medians only (all-run samples are not exposed): use round medians for p25/p10/min
        for (int i = 0; i < names.Length; i++)
        {
            var rm = r[i].RoundMediansMs;
            res["med-of-round-med"][rep, i] = r[i].MedianMs; res["p25"][rep, i] = Stats.Quantile(rm, 0.25);
            res["p10"][rep, i] = Stats.Quantile(rm, 0.10); res["min"][rep, i] = r[i].MinMs;
        }
    }
    foreach (var k in keys)
    {
        var v = res[k];
        var cvs = Enumerable.Range(0, names.Length).Select(i => Stats.Cv(Enumerable.Range(0, reps).Select(r => v[r, i]).ToList())).ToList();
        var rcv = Enumerable.Range(1, names.Length - 1).Select(i => Stats.Cv(Enumerable.Range(0, reps).Select(r => v[r, i] / v[r, 0]).ToList())).ToList();
        Console.WriteLine($"{k,-17} cv per model: {string.Join(" ", cvs.Select(c => (c * 100).ToString("F1")))}   ratio cv: {string.Join(" ", rcv.Select(c => (c * 100).ToString("F1")))}");
    }
    Console.WriteLine($"load {MachineInfo.LoadAverage()}");
}
