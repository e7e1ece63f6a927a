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
if (cmd == "exp")
{
    // Predictor variants on one column: exp ENCODING CSV COLUMN [configs...]; same split as `tailor latency fit` (seed 0, train 1000).
    var enc = Tailor.Hardware.Predictors.ArchEncodings.Parse(args[1]);
    var data = Tailor.Hardware.Predictors.LatencyCsv.Load(args[2], enc, args[3]);
    var idx = Enumerable.Range(0, data.Count).ToArray();
    new Random(0).Shuffle(idx);
    var tr = idx.Take(1000).ToArray(); var te = idx.Skip(1000).ToArray();
    var trC = tr.Select(i => data.Choices[i]).ToList(); var trY = tr.Select(i => data.Latency[i]).ToList();
    var teC = te.Select(i => data.Choices[i]).ToList(); var teY = te.Select(i => data.Latency[i]).ToArray();
    TorchSharp.torch.set_num_threads(1);
    var configs = new Dictionary<string, Func<Tailor.Hardware.Predictors.ILatencyPredictor>>
    {
        ["mlp"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0),
        ["mlp-logh"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "log-huber" }),
        ["mlp-logh-d02"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "log-huber", HuberDelta = 0.02 }),
        ["mlp-logh-d10"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "log-huber", HuberDelta = 0.10 }),
        ["mlp-logh-2k"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "log-huber", Steps = 2000, Patience = 500 }),
        ["mlp-logh-wd"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "log-huber", WeightDecay = 1e-3 }),
        ["mlp-logh-lr3"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "log-huber", LearningRate = 3e-3 }),
        ["mlp-h"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "huber" }),
        ["mlp-h-d10"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "huber", HuberDelta = 0.1 }),
        ["mlp-h-lr3"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "huber", LearningRate = 3e-3 }),
        ["mlp-h-noes"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "huber", ValidationShare = 0 }),
        ["mlp-noes"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { ValidationShare = 0 }),
        ["mlp-noes-wd"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { ValidationShare = 0, WeightDecay = 1e-2 }),
        ["lin"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Steps = 0 }),
        ["lin-h"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "huber", HiddenLayers = 0, ValidationShare = 0 }),
        ["lin-h-d02"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "huber", HuberDelta = 0.02, HiddenLayers = 0, ValidationShare = 0, LearningRate = 3e-3 }),
        ["mlp-h-wd"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "huber", ValidationShare = 0, WeightDecay = 1e-2 }),
        ["gbdt-s500"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { Trees = 500, Leaves = 2, LearningRate = 0.1 }),
        ["gbdt-s2000"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { Trees = 2000, Leaves = 2, LearningRate = 0.05 }),
        ["gbdt-4-300"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { Trees = 300, Leaves = 4, LearningRate = 0.05, MinLeafExamples = 20 }),
        ["mlp-h2"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "huber" }),
        ["mlp-h2-lr3"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "huber", LearningRate = 3e-4 }),
        ["mlp-h2-wd"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "huber", WeightDecay = 1e-3, Hidden = 64 }),
        ["gbdt-rel"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { Target = "relative" }),
        ["gbdt-rel-r2"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { Target = "relative", RobustRounds = 2 }),
        ["gbdt-rel-s"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { Target = "relative", Leaves = 2, Trees = 2000 }),
        ["gbdt-rel-s-r2"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { Target = "relative", Leaves = 2, Trees = 2000, RobustRounds = 2 }),
        ["gbdt-rel-300-r2"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { Target = "relative", Trees = 300, LearningRate = 0.05, MinLeafExamples = 20, RobustRounds = 2 }),
        ["gbdt"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0),
    };
    var want = args.Length > 4 ? args.Skip(4).ToArray() : configs.Keys.ToArray();
    foreach (var k in want)
    {
        var sw = Stopwatch.StartNew();
        using var p = configs[k]();
        var m = Tailor.Hardware.PredictionMetrics.Of(p.Predict(teC), teY);
        string steps = p is Tailor.Hardware.Predictors.MlpLatencyPredictor mp ? $" steps {mp.TrainedSteps}" : "";
        Console.WriteLine($"{args[3]} {k,-14}{steps}: {m} ({sw.Elapsed.TotalSeconds:F1}s)");
        if (enc is Tailor.Hardware.Predictors.Nb201Encoding nbe)
        {
            var pr = p.Predict(teC);
            var con = Enumerable.Range(0, te.Length).Where(i => nbe.Features(teC[i])[54] > 0).ToArray();
            var dis = Enumerable.Range(0, te.Length).Where(i => nbe.Features(teC[i])[54] == 0).ToArray();
            Console.WriteLine($"    connected {Tailor.Hardware.PredictionMetrics.Of(con.Select(i => pr[i]).ToArray(), con.Select(i => teY[i]).ToArray())}");
            Console.WriteLine($"    disconnected {Tailor.Hardware.PredictionMetrics.Of(dis.Select(i => pr[i]).ToArray(), dis.Select(i => teY[i]).ToArray())}");
        }
    }
}
