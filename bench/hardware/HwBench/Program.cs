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
    // How well can ANY function of the architecture predict the NB201 latency columns? NB201 cells that compute the
    // same function: with edge 2<-1 = none, nodes 1 and 2 are interchangeable, so (a, b, none, x, c, d) and
    // (b, a, none, x, d, c) are the same network (1,500 such pairs). Their measured latencies differ only by
    // measurement noise, which bounds every predictor's within +-10%. Three estimates of that ceiling, on the pairs:
    //  - twin (pessimistic): predict each row by its twin's measurement (noise of both rows);
    //  - gaussian: if log latency = f(arch) + e with e i.i.d. normal, |e| <= log 1.1 exactly when the pair's
    //    |log ratio| <= sqrt(2) log 1.1 in distribution: the share of pairs that are;
    //  - midpoint (optimistic): predict each row by the mean of the pair, itself included.
    // Also: does the device skip dead ops? If it did, cells with the same live ops (dead edges -- ops that cannot
    // reach the output, or are fed only through none -- set to none) would have the same latency.
    string csv = args[1];
    var enc = new Tailor.Hardware.Predictors.Nb201Encoding();
    var header = File.ReadLines(csv).First().Split(',');
    static int[] Swap(int[] c) => new[] { c[1], c[0], 0, c[3], c[5], c[4] };
    static string Key(int[] c) => string.Join(",", c);
    static string Iso(int[] c) { if (c[2] != 0) return Key(c); var a = Key(c); var b = Key(Swap(c)); return string.CompareOrdinal(a, b) <= 0 ? a : b; }
    static bool[] Live(int[] c)
    {
        var E = Tailor.Hardware.Predictors.Nb201Encoding.Edges;
        var r = new bool[4]; r[0] = true; var o = new bool[4]; o[3] = true;
        for (int e = 0; e < 6; e++) if (c[e] != 0 && r[E[e].From]) r[E[e].To] = true;
        for (int e = 5; e >= 0; e--) if (c[e] != 0 && o[E[e].To]) o[E[e].From] = true;
        return Enumerable.Range(0, 6).Select(e => c[e] != 0 && r[E[e].From] && o[E[e].To]).ToArray();
    }
    static int[] Pruned(int[] c) { var l = Live(c); return c.Select((k, e) => l[e] ? k : 0).ToArray(); }
    Console.WriteLine("| column | iso pairs | pair median abs log ratio | same, pairs < 500 rows apart / >= 5000 apart | ceiling: twin | gaussian | midpoint | rows within +-10% of their live-op group's median (groups >= 2; 'device prunes' test) | disconnected cells: median / min / max ms |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
    foreach (var col in header.Where(h => h.StartsWith("latency")))
    {
        var data = Tailor.Hardware.Predictors.LatencyCsv.Load(csv, enc, col);
        var byIso = new Dictionary<string, List<int>>();
        for (int i = 0; i < data.Count; i++)
        {
            var k = Iso(data.Choices[i]);
            if (!byIso.TryGetValue(k, out var l)) byIso[k] = l = new();
            l.Add(i);
        }
        var pairs = byIso.Values.Where(l => l.Count == 2).Select(l => (A: l[0], B: l[1])).ToList();
        double Y(int i) => data.Latency[i];
        var lr = pairs.Select(p => Math.Abs(Math.Log(Y(p.A) / Y(p.B)))).ToList();
        var near = pairs.Where(p => Math.Abs(p.A - p.B) < 500).Select(p => Math.Abs(Math.Log(Y(p.A) / Y(p.B)))).ToList();
        var far = pairs.Where(p => Math.Abs(p.A - p.B) >= 5000).Select(p => Math.Abs(Math.Log(Y(p.A) / Y(p.B)))).ToList();
        bool W(double pred, double y) => Math.Abs(pred - y) <= 0.1 * y;
        double twin = pairs.Average(p => (W(Y(p.B), Y(p.A)) ? 0.5 : 0) + (W(Y(p.A), Y(p.B)) ? 0.5 : 0));
        double gauss = lr.Count(v => v <= Math.Sqrt(2) * Math.Log(1.1)) / (double)lr.Count;
        double mid = pairs.Average(p => { double m = (Y(p.A) + Y(p.B)) / 2; return (W(m, Y(p.A)) ? 0.5 : 0) + (W(m, Y(p.B)) ? 0.5 : 0); });
        var byLive = new Dictionary<string, List<int>>();
        for (int i = 0; i < data.Count; i++)
        {
            var k = Iso(Pruned(data.Choices[i]));
            if (!byLive.TryGetValue(k, out var l)) byLive[k] = l = new();
            l.Add(i);
        }
        int nl = 0, wl = 0;
        foreach (var g in byLive.Values.Where(g => g.Count >= 2))
        {
            double med = Stats.Median(g.Select(Y).ToList());
            foreach (var i in g) { nl++; if (W(med, Y(i))) wl++; }
        }
        var dis = Enumerable.Range(0, data.Count).Where(i => enc.Features(data.Choices[i])[54] == 0).Select(Y).ToList();
        Console.WriteLine($"| {col} | {pairs.Count} | {Stats.Median(lr) * 100:F1}% | {Stats.Median(near) * 100:F1}% / {Stats.Median(far) * 100:F1}% | " +
                          $"{twin * 100:F1}% | {gauss * 100:F1}% | {mid * 100:F1}% | {wl * 100.0 / nl:F1}% of {nl} | {Stats.Median(dis):G3} / {dis.Min():G3} / {dis.Max():G3} ({dis.Count} cells) |");
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
        ["default-mlp"] = () => Tailor.Hardware.Predictors.PredictorEvaluation.Fit("mlp", enc, trC, trY, 0),
        ["default-gbdt"] = () => Tailor.Hardware.Predictors.PredictorEvaluation.Fit("gbdt", enc, trC, trY, 0),
        ["mlp"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "relative" }),
        ["mlp-f01"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { FloorQuantile = 0.01 }),
        ["mlp-f00"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { FloorQuantile = 0.0 }),
        ["gbdt-f01"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { FloorQuantile = 0.01 }),
        ["gbdt-f00"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { FloorQuantile = 0.0 }),
        ["mlp-log"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Loss = "log-huber" }),
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
        ["lin"] = () => Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, trC, trY, 0, new() { Steps = 0 }), // the robust linear term alone
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
        // the defaults before the NB201 investigation: log target, 3000 trees of 4 leaves, squared error
        ["gbdt"] = () => Tailor.Hardware.Predictors.GbdtLatencyPredictor.Fit(enc, trC, trY, 0, new() { Target = "log", Trees = 3000, Leaves = 4, RobustRounds = 0 }),
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
if (cmd == "repeat")
{
    // Is the MLP fit bit-reproducible within one process? (the PredictSoft test's synthetic data)
    TorchSharp.torch.set_num_threads(1);
    if (args.Length > 4)
    {
        using var warm = Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(Tailor.Hardware.Predictors.ArchEncodings.Parse("space:spnas-cifar"),
            new List<int[]> { new int[10], new int[10] }, new List<double> { 1, 2 }, 0, new() { Steps = 20 });
        Console.WriteLine("MKL used before setting CBWR");
    }
    if (args.Length > 3) Console.WriteLine($"cbwr set: {Cbwr.Set(int.Parse(args[3]))}, get {Cbwr.Get(1)}");
    var enc = Tailor.Hardware.Predictors.ArchEncodings.Parse("space:spnas-cifar");
    var space = ((Tailor.Hardware.Predictors.SpaceEncoding)enc).Space;
    var rng = new Random(2);
    var choices = Enumerable.Range(0, 200).Select(_ => space.Sample(rng)).ToList();
    var y = choices.Select(c => 1.0 + c.Select((k, l) => 0.1 * (k + 1) * (l % 3 + 1)).Sum() + (c[0] == c[1] ? 0.3 : 0)).ToList();
    string loss = args.Length > 1 ? args[1] : "huber";
    for (int i = 0; i < 4; i++)
    {
        using var p = Tailor.Hardware.Predictors.MlpLatencyPredictor.Fit(enc, choices, y, 0, new() { Steps = 200, Loss = loss });
        Console.WriteLine($"{loss} fit {i}: steps {p.TrainedSteps} first prediction {p.Predict(choices.Take(1).ToList())[0]:R}");
        if (args.Length > 2) { GC.Collect(); GC.WaitForPendingFinalizers(); }
    }
}

static partial class Cbwr
{
    [System.Runtime.InteropServices.LibraryImport("libtorch_cpu", EntryPoint = "mkl_serv_cbwr_set")]
    public static partial int Set(int mode);
    [System.Runtime.InteropServices.LibraryImport("libtorch_cpu", EntryPoint = "mkl_serv_cbwr_get")]
    public static partial int Get(int option);
}
