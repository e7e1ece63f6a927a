using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Models.SinglePath;
using Tailor.Training;
using Tailor.Training.Optimizers;
using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Search.SinglePath;

/// <summary>Configuration of a Single-Path NAS search (defaults: the paper's schedule scaled to the run).</summary>
public sealed record SinglePathConfig
{
    /// <summary>Latency target in ms (lambda found automatically); null = fixed-lambda mode.</summary>
    public double? TargetMs { get; init; }
    /// <summary>Fixed lambda (the paper's mode; 0.02 gave ~80 ms on the Pixel 1). Ignored when a target is set.</summary>
    public double Lambda { get; init; } = 0.02;
    public int Epochs { get; init; } = 4;
    public int BatchSize { get; init; } = 128;
    /// <summary>Learning rate per 256 images (linear scaling with the batch size).</summary>
    public double LrPer256 { get; init; } = 0.016;
    /// <summary>"rmsprop-tf" (the paper's TF1 RMSProp), "sgd" or "adam".</summary>
    public string Optimizer { get; init; } = "rmsprop-tf";
    public double LabelSmoothing { get; init; } = 0.1;
    /// <summary>Coefficient of sum 0.5*||v||^2 over non-BN variables, thresholds included.</summary>
    public double WeightDecay { get; init; } = 1e-5;
    /// <summary>Share of the search in phase 1 (lambda = 0, indicator dropout): the paper's 5 of 8 epochs.</summary>
    public double Phase1 { get; init; } = 5.0 / 8.0;
    public double IndicatorKeep { get; init; } = 0.6;
    /// <summary>LR decay x0.97 every this share of the search (the paper's 2.4 of 8 epochs).</summary>
    public double LrDecayEvery { get; init; } = 2.4 / 8.0;
    public NormMode Norm { get; init; } = NormMode.Rms;
    public bool ExactMasking { get; init; } = true;
    public RuntimeFormula? Formula { get; init; }
    /// <summary>Dual-ascent step of the latency controller.</summary>
    public double ControllerEta { get; init; } = 0.01;
    public double Tolerance { get; init; } = 0.05;
    public int Seed { get; init; }

    public static SinglePathConfig Faithful(double lambda) => new() { Lambda = lambda, Norm = NormMode.Raw, ExactMasking = false };
}

public sealed record SinglePathResult(Architecture Arch, int[] Choices, string[] Names, double PredictedMs, double Lambda,
    IReadOnlyList<LatencyProjection.Flip> Flips, double Seconds, long Steps, double FinalCe)
{
    /// <summary>Process CPU time of the search (all threads), s: the compute a baseline gets (random-train --budget-seconds uses CPU / threads).</summary>
    public double CpuSeconds { get; init; } = double.NaN;
}

/// <summary>
/// Single-Path NAS search (methods.md §1): weights and thresholds trained jointly on the training
/// split by one optimizer with CE (label smoothing) + weight decay + lambda * 1000 * ln(R).
/// Phase 1: lambda = 0 and indicator dropout; phase 2: lambda on (fixed, or driven by the
/// <see cref="LatencyController"/> towards a target). Resumable from per-epoch checkpoints.
/// </summary>
public sealed class SinglePathSearch
{
    public SinglePathConfig Config { get; }
    public LayeredSpace Space { get; }
    public LayerLatencies Table { get; }

    public SinglePathSearch(LayeredSpace space, LayerLatencies table, SinglePathConfig config)
    {
        Space = space; Table = table; Config = config;
        if (!ReferenceEquals(space, table.Space) && space.Name != table.Space.Name)
            throw new TailorException($"latency table is for space '{table.Space.Name}', not '{space.Name}'");
        if (config.TargetMs is double t)
        {
            var (lo, hi) = table.Range();
            if (t < lo * (1 - config.Tolerance) || t > hi * (1 + config.Tolerance))
                throw new TailorException($"latency target {t:G4} ms is outside what space '{space.Name}' can reach on this table: {lo:F3} .. {hi:F3} ms");
        }
        if (config.Epochs < 1) throw new TailorException($"--epochs must be >= 1 (got {config.Epochs})");
    }

    public const string CheckpointFile = "search-checkpoint.pt";
    public const string CsvFile = "search.csv";

    /// <summary>Runs (or resumes) the search. <paramref name="progress"/> gets (step, total, ce, R, lambda).</summary>
    public SinglePathResult Run(Tailor.Data.DataLoader train, string outDir, bool resume, Action<long, long, double, double, double>? progress = null)
    {
        Directory.CreateDirectory(outDir);
        var sw = Stopwatch.StartNew();
        var cpuClock = Tailor.Util.ProcessCpuClock.Start();
        double Cpu() => cpuClock.Seconds;
        long stepsPerEpoch = train.BatchCount;
        long total = stepsPerEpoch * Config.Epochs;
        long phase1 = (long)Math.Round(total * Config.Phase1);
        long decayEvery = Math.Max(1, (long)Math.Round(total * Config.LrDecayEvery));
        double lr0 = Config.LrPer256 * Config.BatchSize / 256.0;

        manual_seed(Config.Seed);
        using var net = new SinglePathSupernet(Space, new SupernetOptions { Norm = Config.Norm, ExactMasking = Config.ExactMasking });
        var runtime = new RuntimeModel(Table, net, Config.Formula);
        var (decay, noDecay) = net.ParameterGroups();
        var opt = MakeOptimizer(net.parameters(), lr0);
        var controller = Config.TargetMs is double target ? new LatencyController(target, Config.ControllerEta) : null;
        var rows = new List<string>();
        var state = new TrainState();
        double priorSeconds = 0, priorCpu = 0;
        string ckpt = Path.Combine(outDir, CheckpointFile);
        if (resume && File.Exists(ckpt))
        {
            var header = Checkpoint.Load(ckpt, net, opt, state);
            var meta = header.Meta ?? throw new TailorException($"{ckpt}: not a Single-Path NAS search checkpoint (no search metadata)");
            if (controller != null) controller.Lambda = meta["lambda"]!.GetValue<double>();
            priorSeconds = meta["seconds"]!.GetValue<double>();
            priorCpu = (double?)meta["cpu_seconds"] ?? 0; // checkpoints from before CPU time was recorded
            string csvPath = Path.Combine(outDir, CsvFile);
            if (File.Exists(csvPath)) rows.AddRange(File.ReadAllLines(csvPath).Skip(1).Take((int)state.Step));
            if (rows.Count != state.Step) throw new TailorException($"{csvPath}: has {rows.Count} steps but the checkpoint is at step {state.Step}; remove the output folder to start over");
        }
        double lastCe = double.NaN;
        string header0 = CsvHeader(net);
        for (int epoch = state.Epoch; epoch < Config.Epochs; epoch++)
        {
            net.train();
            var rng = Rng.Derive(Config.Seed, $"spnas-epoch-{epoch}");
            foreach (var batch in train.Batches(rng))
            {
                long step = state.Step;
                using var scope = NewDisposeScope();
                bool phase2 = step >= phase1;
                // stateless randomness per step: a resumed run draws exactly what an uninterrupted one does
                manual_seed(unchecked(Config.Seed * 1_000_003L + step));
                var gen = new Generator((ulong)unchecked(Config.Seed * 7_919L + step * 104_729L) & 0x7fffffffffffL);
                net.SetIndicatorDropout(phase2 ? null : Config.IndicatorKeep, gen);
                double lambda = !phase2 ? 0.0 : controller?.Lambda ?? Config.Lambda;
                double lr = lr0 * Math.Pow(0.97, step / decayEvery);
                foreach (var g in opt.ParamGroups) g.LearningRate = lr;

                var logits = net.call(batch.Images);
                var ce = nn.functional.cross_entropy(logits, batch.Labels, label_smoothing: Config.LabelSmoothing);
                Tensor wd = zeros(1)[0];
                foreach (var p in decay) wd = wd.Plus(p.Squared().sum());
                wd = wd.Times(0.5 * Config.WeightDecay);
                var r = runtime.Forward(net);
                var loss = ce.Plus(wd).Plus(r.log().Times(lambda * 1000.0));
                double lossV = loss.item<float>(), ceV = ce.item<float>(), rV = r.item<float>();
                if (!double.IsFinite(lossV))
                    throw new TailorException($"non-finite loss at step {step} (CE {ceV}, R {rV} ms, lambda {lambda}); the last good checkpoint is {ckpt}: lower the learning rate (--lr) or lambda and rerun with --resume");
                opt.zero_grad();
                loss.backward();
                opt.step();
                var names = net.DecodeNames();
                var choice = names.Select((n, l) => Space.Choices(l).ToList().FindIndex(c => c.Name == n)).ToArray();
                double hard = Table.Predict(choice);
                if (phase2 && controller != null) controller.Update(hard);
                rows.Add(CsvRow(step, epoch, phase2, ceV, rV, hard, lambda, lr, net, names));
                lastCe = ceV;
                state.Step++;
                progress?.Invoke(state.Step, total, ceV, hard, lambda);
            }
            state.Epoch = epoch + 1;
            // per-epoch checkpoint: CSV first (a checkpoint never points past its CSV), then the checkpoint
            AtomicFile.WriteAllText(Path.Combine(outDir, CsvFile), header0 + "\n" + string.Join("\n", rows) + "\n");
            var meta = new JsonObject { ["lambda"] = controller?.Lambda ?? Config.Lambda, ["seconds"] = priorSeconds + sw.Elapsed.TotalSeconds, ["cpu_seconds"] = priorCpu + Cpu(), ["kind"] = "single-path-search" };
            Checkpoint.Save(ckpt, net, opt, state, meta);
        }
        // decode and, with a target, project onto the latency band
        var finalNames = net.DecodeNames();
        var finalChoice = finalNames.Select((n, l) => Space.Choices(l).ToList().FindIndex(c => c.Name == n)).ToArray();
        var flips = new List<LatencyProjection.Flip>();
        if (Config.TargetMs is double tgt)
            (finalChoice, flips) = LatencyProjection.Project(finalChoice, Table, tgt, Config.Tolerance, (l, cur) => Neighbours(net, l, cur));
        var arch = Space.Build(finalChoice, $"{Space.Name}-spnas-seed{Config.Seed}");
        return new SinglePathResult(arch, finalChoice, finalChoice.Select((c, l) => Space.Choices(l)[c].Name).ToArray(), Table.Predict(finalChoice),
            controller?.Lambda ?? Config.Lambda, flips, priorSeconds + sw.Elapsed.TotalSeconds, state.Step, lastCe) { CpuSeconds = priorCpu + Cpu() };
    }

    OptimizerHelper MakeOptimizer(IEnumerable<TorchSharp.Modules.Parameter> ps, double lr) => Config.Optimizer switch
    {
        "rmsprop-tf" => new RMSPropTF(ps, lr),
        "sgd" => new KeptScalarSgd(ps, lr, momentum: 0.9),
        "adam" => new KeptScalarAdam(ps, lr),
        _ => throw new TailorException($"--optimizer: '{Config.Optimizer}' is not one of rmsprop-tf, sgd, adam"),
    };

    /// <summary>One-decision changes of layer <paramref name="l"/> with the margin of the decision that changes.</summary>
    IEnumerable<(int To, double Margin)> Neighbours(SinglePathSupernet net, int l, int current)
    {
        var layer = net.SearchLayers[l];
        var ch = layer.Choices;
        var names = Space.Choices(l).Select(c => c.Name).ToList();
        var (_, km, _, em) = layer.Kernel.Margins();
        string cur = names[current];
        var res = new List<(int, double)>();
        void Add(string name, double margin) { int i = names.IndexOf(name); if (i >= 0 && i != current) res.Add((i, margin)); }
        if (cur == "skip")
        {
            Add(Spaces.CandidateName(ch.Kernels[0], ch.Expansions[0], false), em[0]);
            return res;
        }
        var c = Space.Choices(l)[current].Block;
        int ki = Array.IndexOf(ch.Kernels, c.Kernel), ei = Array.IndexOf(ch.Expansions, c.Expansion);
        bool se = c.Se != null;
        if (ki > 0) Add(Spaces.CandidateName(ch.Kernels[ki - 1], c.Expansion, se), km[ki - 1]);
        if (ki + 1 < ch.Kernels.Length) Add(Spaces.CandidateName(ch.Kernels[ki + 1], c.Expansion, se), km[ki]);
        if (ei > 0) Add(Spaces.CandidateName(c.Kernel, ch.Expansions[ei - 1], se), em[ei]);
        if (ei + 1 < ch.Expansions.Length) Add(Spaces.CandidateName(c.Kernel, ch.Expansions[ei + 1], se), em[ei + 1]);
        if (ch.SearchSe) Add(Spaces.CandidateName(c.Kernel, c.Expansion, !se), layer.SeMargin());
        if (ch.Skippable) Add("skip", em[0]);
        return res;
    }

    static string CsvHeader(SinglePathSupernet net)
    {
        var sb = new StringBuilder("step,epoch,phase,ce,r_ms,r_table_ms,lambda,lr");
        for (int l = 0; l < net.SearchLayers.Count; l++)
        {
            var k = net.SearchLayers[l].Kernel;
            sb.Append($",L{l}_op");
            for (int j = 1; j < k.Kernels.Length; j++) sb.Append($",L{l}_k{k.Kernels[j]}_norm,L{l}_k{k.Kernels[j]}_t");
            for (int j = 0; j < k.Expansions.Length; j++)
                if (j > 0 || k.Skippable) sb.Append($",L{l}_e{k.Expansions[j]}_norm,L{l}_e{k.Expansions[j]}_t");
            if (net.SearchLayers[l].SeThreshold is not null) sb.Append($",L{l}_se_margin");
        }
        return sb.ToString();
    }

    static string CsvRow(long step, int epoch, bool phase2, double ce, double r, double hard, double lambda, double lr, SinglePathSupernet net, string[] names)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(string.Format(inv, "{0},{1},{2},{3:G6},{4:G6},{5:G6},{6:G6},{7:G6}", step, epoch, phase2 ? 2 : 1, ce, r, hard, lambda, lr));
        for (int l = 0; l < net.SearchLayers.Count; l++)
        {
            var layer = net.SearchLayers[l];
            var k = layer.Kernel;
            var (kn, km, en, em) = k.Margins();
            sb.Append(',').Append(names[l]);
            for (int j = 0; j < kn.Length; j++) sb.Append(string.Format(inv, ",{0:G6},{1:G6}", kn[j], kn[j] - km[j]));
            for (int j = 0; j < en.Length; j++)
                if (j > 0 || k.Skippable) sb.Append(string.Format(inv, ",{0:G6},{1:G6}", en[j], en[j] - em[j]));
            if (layer.SeThreshold is not null) sb.Append(string.Format(inv, ",{0:G6}", layer.SeMargin()));
        }
        return sb.ToString();
    }
}
