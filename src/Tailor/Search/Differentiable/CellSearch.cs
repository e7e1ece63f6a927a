using System.Diagnostics;
using System.Text.Json;
using Tailor.Data;
using Tailor.Models.Cells;
using Tailor.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Tailor.Search.Differentiable;

/// <summary>
/// Differentiable cell search over a NAS-Bench-201 or DARTS supernet: DARTS (first / second order),
/// GDAS, MSG-DAS, DARTS-PT and H-DAS, each a choice of how a step mixes the ops of an edge and how
/// the architecture is read out (docs/cell-search.md gives every formulation).
/// Bilevel: the training images are split in two halves; weights (SGD) step on a batch of the first,
/// architecture parameters (Adam) on a batch of the second. Every step runs in its own dispose scope;
/// every random draw comes from a stream derived from (seed, epoch, step), so the same seed gives the
/// same search and a run resumed from its checkpoint continues exactly.
/// </summary>
public sealed class CellSearch : IDisposable
{
    public CellSearchOptions Options { get; }
    readonly SearchSplit _split;
    readonly Nb201Table? _table;
    readonly string? _out;
    public CellSupernet Net { get; }
    public ArchParameters Arch { get; }
    readonly SgdMomentum _sgd;
    readonly AdamL2 _adam;
    readonly LatencyMlp? _latency;
    public SearchState State { get; private set; }
    public Action<SearchProgress>? Progress { get; set; }
    public Action<EpochRecord>? EpochDone { get; set; }
    public CancellationToken Cancel { get; set; }
    /// <summary>Latency predictor fit quality (nb201 with a latency lambda).</summary>
    public LatencyMlp? Latency => _latency;

    Generator _gumbel = new(1);
    double _tau = 1;
    bool _archFirst;
    int _groups;

    public const string CheckpointDir = "checkpoint";

    public CellSearch(CellSearchOptions o, ImageDataset data, Nb201Table? table, string? outDir, bool resume = false)
    {
        o.Validate();
        Options = o;
        CheckData(o, data);
        _table = table;
        _out = outDir;
        if (o.Space == "nb201" && table == null) throw new TailorException("nb201 search: the NAS-Bench-201 table is needed to score derived cells");
        if (table != null && table.Evaluator.Archs.Count != Benchmarks.Nb201Arch.Count)
            throw new TailorException($"{table.Path}: holds {table.Evaluator.Archs.Count} of the {Benchmarks.Nb201Arch.Count} NAS-Bench-201 cells; a search can derive any cell, so it needs them all");
        _split = new SearchSplit(data, o.TrainImages, o.ValImages, o.Batch, o.Augment, o.Seed);
        torch.manual_seed(o.Seed);
        bool stageSpecific = o.Method == "hdas";
        Net = o.Space == "nb201"
            ? new Nb201Supernet(new Nb201SupernetConfig { C = o.C, N = o.N, Classes = data.Classes, InputChannels = data.Channels, StageSpecific = stageSpecific })
            : new DartsSupernet(new DartsSupernetConfig { C = o.C, Layers = o.Layers, Classes = data.Classes, InputChannels = data.Channels, StageSpecific = stageSpecific });
        _groups = Net.Groups;
        Arch = new ArchParameters(Net, o.Seed, zero: o.FixAlpha);
        _sgd = new SgdMomentum(Net.WeightParameters().Cast<Tensor>().ToList(), o.Momentum, o.WeightDecay, o.Nesterov);
        _adam = new AdamL2(Arch.Alphas, o.ArchLr, o.ArchBeta1, o.ArchBeta2, o.ArchWeightDecay);
        _archFirst = o.Method is "darts" or "darts-pt" or "hdas"; // DARTS's order; GDAS (AutoDL) steps the weights first
        if (o.LatencyLambda > 0) _latency = LatencyMlp.Fit(table!, o.Seed);
        Net.Regulariser.SkipDropBlock = o.Method == "msg-das" ? o.DropBlock : 0;
        Net.Regulariser.BlockSize = o.DropBlockSize;
        State = new SearchState { Options = o };
        if (o.Method == "darts-pt") InitPt();
        if (outDir != null)
        {
            string ck = Path.Combine(outDir, CheckpointDir, "state.json");
            if (File.Exists(ck))
            {
                if (!resume) throw new TailorException($"{outDir}: holds a checkpoint of an earlier run; pass --resume to continue it, or choose another --out");
                LoadCheckpoint(Path.Combine(outDir, CheckpointDir));
            }
        }
        Net.train();
    }

    /// <summary>Space/data agreement: the NAS-Bench-201 table scores CIFAR-10 (3x32x32, 10 classes) cells only.</summary>
    public static void CheckData(CellSearchOptions o, ImageDataset data)
    {
        if (o.Space == "nb201" && (data.Shape.Channels != 3 || data.Shape.Height != 32 || data.Shape.Width != 32 || data.Classes != 10))
            throw new TailorException($"--space nb201 is scored by the NAS-Bench-201 CIFAR-10 table and needs 3x32x32 images in 10 classes; {data.Name} has {data.Shape} images in {data.Classes} classes");
        if (data.Shape.Height % 4 != 0 || data.Shape.Width % 4 != 0)
            throw new TailorException($"--space {o.Space}: image height and width must be multiples of 4 (two stride-2 reductions); {data.Name} has {data.Shape}");
    }

    int StepsPerEpoch => Math.Min(Options.StepsPerEpoch ?? int.MaxValue, _split.StepsPerEpoch);

    // ------------------------------------------------------------------ plans

    Tensor[] SoftWeights(bool differentiable)
    {
        if (Options.FixAlpha)
            return Arch.Alphas.Select(a => full(a.shape, 1.0 / a.shape[1])).ToArray();
        var w = Arch.Softmax();
        return differentiable ? w : w.Select(t => t.detach()).ToArray();
    }

    /// <summary>The plans of one forward: soft (DARTS), sampled (GDAS, MSG-DAS), with DARTS-PT's projections and masks.</summary>
    CellPlan[] Plans(bool differentiable, (int Group, int Edge, int Op)? maskOp = null, (int Group, int Edge)? maskEdge = null)
    {
        var plans = new CellPlan[_groups];
        if (Options.Method is "gdas" or "msg-das")
        {
            int k = Options.Method == "gdas" ? 1 : Options.K;
            for (int g = 0; g < _groups; g++)
            {
                if (differentiable && Options.GumbelGrad == "gdas")
                {
                    var (idx, w, others) = GumbelSampler.TopKWithOthers(Arch.Alphas[g], k, _tau, _gumbel);
                    plans[g] = CellPlan.Sampled(idx, w, Net.NoneOp, others);
                }
                else
                {
                    // the same draw (same noise, same ops) without the terms only GDAS's estimator uses
                    var (idx, w) = GumbelSampler.TopK(Arch.Alphas[g], k, _tau, _gumbel);
                    plans[g] = CellPlan.Sampled(idx, differentiable ? w : w.detach(), Net.NoneOp);
                }
            }
            return plans;
        }
        var soft = SoftWeights(differentiable);
        for (int g = 0; g < _groups; g++)
        {
            int edges = Net.EdgesOf(g);
            bool[,]? mask = null;
            bool Need() { mask ??= new bool[edges, Net.OpNames.Count]; return true; }
            if (State.KeepEdges?[g] is { } keep)
                for (int step = 0; step < DartsCell.Steps; step++)
                    if (keep[step] is { Length: 2 } kept)
                        for (int j = 0; j < 2 + step; j++)
                            if (!kept.Contains(j) && Need())
                                for (int o = 0; o < Net.OpNames.Count; o++) mask![DartsCell.EdgeIndex(step, j), o] = true;
            if (maskOp is { } mo && mo.Group == g && Need()) mask![mo.Edge, mo.Op] = true;
            if (maskEdge is { } me && me.Group == g && Need())
                for (int o = 0; o < Net.OpNames.Count; o++) mask![me.Edge, o] = true;
            var fixedOps = State.FixedOps?[g];
            if (fixedOps != null)
            {
                var f = fixedOps.ToArray();
                // an edge masked whole (topology) computes nothing even if its op is fixed
                if (maskEdge is { } m3 && m3.Group == g) f[m3.Edge] = -1;
                if (mask != null)
                    for (int e = 0; e < edges; e++)
                        if (f[e] >= 0 && Enumerable.Range(0, Net.OpNames.Count).All(o => mask[e, o])) f[e] = -1;
                plans[g] = CellPlan.Partial(soft[g], Net.NoneOp, f, mask);
            }
            else plans[g] = CellPlan.Soft(soft[g], Net.NoneOp, mask);
        }
        return plans;
    }

    Tensor LatencyTerm()
    {
        var t = Arch.Softmax();
        Tensor sum = _latency!.PredictSoft(t[0]);
        for (int g = 1; g < t.Length; g++) sum = sum + _latency.PredictSoft(t[g]);
        return sum / t.Length;
    }

    // ------------------------------------------------------------------ steps

    (double Loss, double Acc) WeightStep(Tensor x, Tensor y, double lr)
    {
        _sgd.ZeroGrad();
        var plans = Plans(false);
        var logits = Net.Forward(x, plans);
        var loss = nn.functional.cross_entropy(logits, y);
        if (Options.Method == "msg-das" && Options.Distill > 0)
        {
            // supernet guidance: the full supernet (softmax(alpha), every op) as teacher, without a graph (memory-efficient)
            Tensor teacher;
            double keep = Net.Regulariser.SkipDropBlock;
            Net.Regulariser.SkipDropBlock = 0;
            using (no_grad())
            {
                var soft = Arch.Softmax().Select(t => t.detach()).ToArray();
                teacher = Net.Forward(x, soft.Select(w => CellPlan.Soft(w, Net.NoneOp)).ToArray());
            }
            Net.Regulariser.SkipDropBlock = keep;
            double T = Options.DistillTemperature;
            var pt = nn.functional.softmax(teacher.Over(T), 1);
            var kl = (pt * (nn.functional.log_softmax(teacher.Over(T), 1) - nn.functional.log_softmax(logits.Over(T), 1))).sum(1).mean();
            loss = loss.Plus(kl.Times(Options.Distill * T * T));
        }
        double lv = loss.item<float>();
        if (!double.IsFinite(lv)) throw new TailorException($"the training loss became {lv} (the search diverged; lower --lr); the last checkpoint is kept");
        loss.backward();
        if (Options.GradClip > 0) GradTools.ClipGradNorm(_sgd.Parameters, Options.GradClip);
        _sgd.Step(lr);
        return (lv, Accuracy(logits, y));
    }

    static double Accuracy(Tensor logits, Tensor y)
    {
        using var _ = no_grad();
        return logits.argmax(1).eq(y).sum().item<long>() * 100.0 / y.shape[0];
    }

    (double Loss, double Acc) ArchStep(Tensor xv, Tensor yv, Tensor xt, Tensor yt, double lr)
    {
        _adam.ZeroGrad();
        double lv, acc;
        if (Options.SecondOrder) (lv, acc) = SecondOrderGrad(xv, yv, xt, yt, lr);
        else
        {
            var logits = Net.Forward(xv, Plans(true));
            var loss = nn.functional.cross_entropy(logits, yv);
            lv = loss.item<float>();
            acc = Accuracy(logits, yv);
            if (_latency != null && Options.LatencyLambda > 0) loss = loss.Plus(LatencyTerm().Times(Options.LatencyLambda));
            var grads = SecondOrder.Grad(loss, Arch.Alphas);
            for (int g = 0; g < grads.Length; g++) SetGrad(Arch.Alphas[g], grads[g]);
        }
        _adam.Step();
        State.AdamSteps = _adam.Steps;
        Arch.CheckFinite($"after architecture step {State.ArchSteps + 1}");
        State.ArchSteps++;
        return (lv, acc);
    }

    static void SetGrad(Tensor p, Tensor? g)
    {
        if (g is null) return;
        if (p.grad is null) (p.sum() * 0).backward();
        p.grad!.copy_(g);
    }

    /// <summary>
    /// DARTS's second-order hypergradient: w' = the weight optimizer's step from grad L_train(w, alpha)
    /// (momentum and weight decay included); dalpha = grad_alpha L_val(w', alpha) - eta * (grad_alpha L_train(w+, alpha) -
    /// grad_alpha L_train(w-, alpha)) / (2 R), w+- = w +- R v, v = grad_w' L_val(w', alpha), R = 0.01 / ||v||.
    /// Leaves the weights as they were and writes alpha's gradient.
    /// </summary>
    (double Loss, double Acc) SecondOrderGrad(Tensor xv, Tensor yv, Tensor xt, Tensor yt, double lr)
    {
        var res = SecondOrder.Hypergradient(_sgd, Arch.Alphas, lr,
            trainLoss: diffAlpha => nn.functional.cross_entropy(Net.Forward(xt, Plans(diffAlpha)), yt),
            valLoss: () =>
            {
                var logits = Net.Forward(xv, Plans(true));
                var l = nn.functional.cross_entropy(logits, yv);
                _lastValAcc = Accuracy(logits, yv);
                _lastValLoss = l.item<float>();
                if (_latency != null && Options.LatencyLambda > 0) l = l.Plus(LatencyTerm().Times(Options.LatencyLambda));
                return l;
            });
        for (int g = 0; g < res.Length; g++) SetGrad(Arch.Alphas[g], res[g]);
        return (_lastValLoss, _lastValAcc);
    }

    double _lastValAcc, _lastValLoss;

    // ------------------------------------------------------------------ epochs

    double TotalWeightEpochs()
    {
        double t = Options.Epochs;
        if (Options.Method == "darts-pt" && State.PtOrder != null)
        {
            int rounds = State.PtOrder.Select(x => x[3]).Distinct().Count();
            t += Options.PtTuneSteps * Math.Max(0, rounds - 1) / (double)StepsPerEpoch;
        }
        return t;
    }

    EpochRecord TrainEpoch(string phase, int phaseEpoch, int phaseEpochs, bool archSteps, int? maxSteps = null)
    {
        var o = Options;
        int ge = State.EpochsDone; // global epoch index (0-based) of this epoch
        // the schedule runs over weight steps (tuning rounds of DARTS-PT are fractions of an epoch)
        double pos = State.WeightSteps / (double)StepsPerEpoch;
        double lr = GradTools.Cosine(o.Lr, o.LrMin, pos, TotalWeightEpochs());
        bool sampled = o.Method is "gdas" or "msg-das";
        if (sampled) _tau = phaseEpoch < 0 ? o.TauMax : phaseEpochs <= 1 ? o.TauMin : o.TauMax - (o.TauMax - o.TauMin) * phaseEpoch / (phaseEpochs - 1);
        _gumbel = new Generator((ulong)SplitMix64.Mix(o.Seed, ge, 1));
        Net.Regulariser.Generator = new Generator((ulong)SplitMix64.Mix(o.Seed, ge, 2));
        int steps = Math.Min(StepsPerEpoch, maxSteps ?? int.MaxValue);
        double tl = 0, ta = 0, vl = 0, va = 0;
        var sw = Stopwatch.StartNew();
        int s = 0;
        foreach (var (xt, yt, xv, yv) in _split.Epoch(ge))
        {
            if (s >= steps) break;
            Cancel.ThrowIfCancellationRequested();
            using (var scope = NewDisposeScope())
            {
                double l, a;
                if (archSteps && _archFirst) { (l, a) = ArchStep(xv, yv, xt, yt, lr); vl += l; va += a; }
                (l, a) = WeightStep(xt, yt, lr);
                State.WeightSteps++;
                tl += l; ta += a;
                if (archSteps && !_archFirst) { (l, a) = ArchStep(xv, yv, xt, yt, lr); vl += l; va += a; }
                if (archSteps) RecordAlpha(ge + 1);
            }
            s++;
            Progress?.Invoke(new SearchProgress(phase, ge + 1, TotalEpochsPlanned(), s, steps));
        }
        State.Seconds += sw.Elapsed.TotalSeconds;
        State.EpochsDone++;
        return new EpochRecord
        {
            Epoch = ge + 1, Phase = phase, TrainLoss = tl / s, TrainAcc = ta / s,
            ValLoss = archSteps ? vl / s : null, ValAcc = archSteps ? va / s : null,
            Lr = lr, Tau = sampled ? _tau : null, Seconds = State.Seconds,
        };
    }

    /// <summary>Benchmark hook: one search step (architecture + weights) on batch <paramref name="step"/> of epoch 0, nothing recorded.</summary>
    public void BenchStep(int step)
    {
        var o = Options;
        if (o.Method is "gdas" or "msg-das") _tau = o.TauMax;
        if (_bench == null || !_bench.MoveNext())
        {
            _bench = _split.Epoch(_benchEpoch++, "bench").GetEnumerator();
            _bench.MoveNext();
        }
        var (xt, yt, xv, yv) = _bench.Current;
        using var scope = NewDisposeScope();
        if (!o.FixAlpha && _archFirst) ArchStep(xv, yv, xt, yt, o.Lr);
        WeightStep(xt, yt, o.Lr);
        if (!o.FixAlpha && !_archFirst) ArchStep(xv, yv, xt, yt, o.Lr);
    }
    IEnumerator<(Tensor, Tensor, Tensor, Tensor)>? _bench;
    int _benchEpoch;

    /// <summary>Candidate-op forward calls of one supernet forward with the method's plans (GDAS: one per edge).</summary>
    public long OpsPerForward()
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        Net.ResetCalls();
        var (x, _) = _split.EvalBatches().First();
        Net.Forward(x.narrow(0, 0, Math.Min(2, x.shape[0])), Plans(false));
        long n = Net.TotalCalls();
        Net.ResetCalls();
        return n;
    }

    void RecordAlpha(int epoch)
    {
        var w = Arch.Weights();
        for (int g = 0; g < w.Length; g++)
            State.Alpha.Add(new AlphaRow(State.ArchSteps, epoch, g, w[g].SelectMany(r => r).ToArray()));
    }

    public int TotalEpochsPlanned()
    {
        int t = Options.Epochs + (Options.Method == "darts-pt" && State.PtOrder != null && Options.PtTuneSteps > 0 ? State.PtOrder.Select(x => x[3]).Distinct().Count() - 1 : 0);
        if (Options.Method == "hdas" && Options.Space == "darts") t += Options.HdasStageEpochs;
        return t;
    }

    /// <summary>Mean softmax weight of skip_connect over the edges of group 0 (DARTS's skip drift).</summary>
    double SkipWeight()
    {
        var w = Arch.Weights()[0];
        return w.Average(r => r[Net.SkipOp]);
    }

    // ------------------------------------------------------------------ derivation and scoring

    /// <summary>The cell(s) the current alpha (and DARTS-PT's projections) derive.</summary>
    public DerivedCells CurrentCells()
    {
        var w = Arch.Weights();
        if (Net is Nb201Supernet)
        {
            var cells = new List<Nb201Cell>();
            for (int g = 0; g < _groups; g++)
            {
                var c = Derive.Nb201(w[g]);
                if (State.FixedOps?[g] is { } f)
                {
                    var ops = c.Ops.ToArray();
                    for (int e = 0; e < ops.Length; e++) if (f[e] >= 0) ops[e] = f[e];
                    c = new Nb201Cell(ops);
                }
                cells.Add(c);
            }
            return new DerivedCells(cells, null);
        }
        var dc = new List<DartsCell>();
        for (int g = 0; g < _groups; g++) dc.Add(Derive.Darts(w[g], State.FixedOps?[g], State.KeepEdges?[g]));
        return new DerivedCells(null, dc);
    }

    /// <summary>Table scores of NAS-Bench-201 cells: the mean over the cells (one cell unless H-DAS's stage-specific cells).</summary>
    public (double Valid, double Test, double? Latency) Score(IReadOnlyList<Nb201Cell> cells)
    {
        var rows = cells.Select(c => _table!.Lookup(c)).ToList();
        double? lat = rows.All(r => r.Latency.HasValue) ? rows.Average(r => r.Latency!.Value) : null;
        return (rows.Average(r => r.Valid), rows.Average(r => r.Test), lat);
    }

    EpochRecord Annotate(EpochRecord r, bool defined = true)
    {
        var d = CurrentCells();
        string g = d.Genotype(this);
        r = r with { Genotype = defined ? g : null, SkipWeight = Options.FixAlpha ? null : SkipWeight() };
        if (d.Nb201 != null && defined)
        {
            var (v, t, l) = Score(d.Nb201);
            r = r with { TableValid = v, TableTest = t, TableLatency = l };
        }
        if (_latency != null && defined && d.Nb201 != null)
            r = r with { PredictedLatency = d.Nb201.Average(c => _latency.Predict(c)) };
        return r;
    }

    // ------------------------------------------------------------------ DARTS-PT

    void InitPt()
    {
        ulong rng = unchecked((ulong)SplitMix64.Mix(Options.Seed, 0x9E7));
        var tasks = new List<int[]>();
        int round = 0;
        if (Options.Space == "nb201")
        {
            var edges = Options.PtOrder == "random" ? SplitMix64.Permutation(Nb201Cell.Edges, SplitMix64.NextNonNegative(ref rng)) : Enumerable.Range(0, Nb201Cell.Edges).ToArray();
            foreach (int e in edges) tasks.Add(new[] { 0, 0, e, round++ });
        }
        else
        {
            // op projection on every edge (normal and reduce cell each round), then topology per node
            var edges = Options.PtOrder == "random" ? SplitMix64.Permutation(DartsCell.SearchEdges, SplitMix64.NextNonNegative(ref rng)) : Enumerable.Range(0, DartsCell.SearchEdges).ToArray();
            foreach (int e in edges) { for (int g = 0; g < _groups; g++) tasks.Add(new[] { 0, g, e, round }); round++; }
            var nodes = Options.PtOrder == "random" ? SplitMix64.Permutation(DartsCell.Steps, SplitMix64.NextNonNegative(ref rng)) : Enumerable.Range(0, DartsCell.Steps).ToArray();
            foreach (int n in nodes) { for (int g = 0; g < _groups; g++) tasks.Add(new[] { 1, g, n, round }); round++; }
        }
        State.PtOrder = tasks;
        State.FixedOps = Enumerable.Range(0, _groups).Select(g => Enumerable.Repeat(-1, Net.EdgesOf(g)).ToArray()).ToArray();
        if (Options.Space == "darts") State.KeepEdges = Enumerable.Range(0, _groups).Select(_ => new int[DartsCell.Steps][]).ToArray();
    }

    /// <summary>Supernet validation accuracy (%) under the current projections and an optional extra mask (batch statistics).</summary>
    public double EvalSupernet((int, int, int)? maskOp = null, (int, int)? maskEdge = null)
    {
        Net.eval();
        try
        {
            int batches = Options.PtEvalBatches > 0 ? Options.PtEvalBatches : int.MaxValue;
            long correct = 0, total = 0;
            int i = 0;
            foreach (var (x, y) in _split.EvalBatches())
            {
                if (i++ >= batches) break;
                using var scope = NewDisposeScope();
                using var ng = no_grad();
                var logits = Net.Forward(x, Plans(false, maskOp, maskEdge));
                correct += logits.argmax(1).eq(y).sum().item<long>();
                total += y.shape[0];
            }
            return correct * 100.0 / total;
        }
        finally { Net.train(); }
    }

    ProjectionRecord Project(int[] task)
    {
        int kind = task[0], g = task[1], target = task[2];
        double baseAcc = EvalSupernet();
        if (kind == 0)
        {
            // op: remove each op of the edge (zero its weight, no renormalisation); keep the one whose removal hurts most
            var cands = Enumerable.Range(0, Net.OpNames.Count).Where(o => Options.Space == "nb201" || o != Net.NoneOp).ToArray();
            var accs = cands.Select(op => EvalSupernet(maskOp: (g, target, op))).ToArray();
            // largest drop first; ties go to the op with the larger architecture weight, 'none' last
            var w = Arch.Weights()[g][target];
            int best = Enumerable.Range(0, cands.Length)
                .OrderBy(i => accs[i]).ThenBy(i => cands[i] == Net.NoneOp ? 1 : 0).ThenByDescending(i => w[cands[i]]).ThenBy(i => i).First();
            State.FixedOps![g][target] = cands[best];
            return new ProjectionRecord
            {
                Kind = "op", Group = g, Target = target, Candidates = cands, Names = cands.Select(c => Net.OpNames[c]).ToArray(),
                AccuracyWithout = accs, BaseAccuracy = baseAcc, Selected = new[] { cands[best] },
            };
        }
        else
        {
            // topology: remove each incoming edge of the node; keep the two whose removal hurts most
            int step = target, n = 2 + step;
            var cands = Enumerable.Range(0, n).ToArray();
            var accs = cands.Select(j => EvalSupernet(maskEdge: (g, DartsCell.EdgeIndex(step, j)))).ToArray();
            var wt = Arch.Weights()[g];
            var keep = cands.OrderBy(j => accs[j]).ThenByDescending(j => wt[DartsCell.EdgeIndex(step, j)].Skip(1).Max()).ThenBy(j => j).Take(2).OrderBy(j => j).ToArray();
            State.KeepEdges![g][step] = keep;
            return new ProjectionRecord
            {
                Kind = "topology", Group = g, Target = target, Candidates = cands, Names = cands.Select(j => $"input {j}").ToArray(),
                AccuracyWithout = accs, BaseAccuracy = baseAcc, Selected = keep,
            };
        }
    }

    // ------------------------------------------------------------------ run

    /// <summary>Runs the whole search (or what is left of it after a resume) and writes the outputs.</summary>
    public CellSearchResult Run()
    {
        while (Advance()) { }
        var result = Result();
        if (_out != null) CellSearchOutput.WriteAll(_out, this, result);
        return result;
    }

    /// <summary>
    /// The next unit of work: one epoch, one DARTS-PT projection round (with its tuning), or H-DAS's
    /// stage-level search. Returns false once the search is complete (then the state is saved).
    /// </summary>
    public bool Advance()
    {
        var o = Options;
        if (State.Complete) return false;
        // phase 1: supernet search (PT: supernet training; fix-alpha: weights only)
        if (State.EpochsDone < o.Epochs)
        {
            int pe = State.EpochsDone;
            bool warm = pe < o.WarmupEpochs;
            string phase = warm ? "warmup" : o.Method == "darts-pt" ? "supernet" : o.Method == "hdas" ? "cells" : "search";
            var rec = TrainEpoch(phase, pe - o.WarmupEpochs, o.Epochs - o.WarmupEpochs, archSteps: !o.FixAlpha && !warm);
            FinishEpoch(Annotate(rec, defined: !o.FixAlpha));
            return true;
        }
        if (o.Method == "darts-pt" && State.PtDone < State.PtOrder!.Count)
        {
            if (State.PtDone == 0 && State.MagnitudeGenotype == null && !o.FixAlpha) State.MagnitudeGenotype = CurrentCells().Genotype(this);
            var tasks = State.PtOrder!;
            int round = tasks[State.PtDone][3], lastRound = tasks[^1][3];
            while (State.PtDone < tasks.Count && tasks[State.PtDone][3] == round)
            {
                Cancel.ThrowIfCancellationRequested();
                Progress?.Invoke(new SearchProgress("project", State.EpochsDone, TotalEpochsPlanned(), State.PtDone, tasks.Count, "measuring"));
                State.Projections.Add(Project(tasks[State.PtDone]));
                State.PtDone++;
            }
            if (round != lastRound && o.PtTuneSteps > 0)
                FinishEpoch(Annotate(TrainEpoch("tune", 0, 1, archSteps: !o.FixAlpha, maxSteps: o.PtTuneSteps), defined: true));
            else if (round == lastRound)
                FinishEpoch(Annotate(new EpochRecord { Epoch = State.EpochsDone, Phase = "projected", Lr = 0, Seconds = State.Seconds }));
            else SaveCheckpoint();
            return true;
        }
        if (o.Method == "hdas" && o.Space == "darts" && State.HdasStageEpochsDone < o.HdasStageEpochs)
        {
            var cells = CurrentCells().Darts!;
            State.HdasCells ??= cells.Select(c => c.ToString()).ToList();
            using var stage = new HdasStageSearch(this, _split, State.HdasCells.Select(s => DartsCell.Parse(s)).ToList());
            stage.Run();
            return true;
        }
        State.Complete = true;
        SaveCheckpoint();
        return false;
    }

    internal void FinishEpoch(EpochRecord rec)
    {
        State.Epochs.Add(rec);
        if (_out != null)
        {
            SaveCheckpoint();
            CellSearchOutput.WriteProgress(_out, this);
        }
        EpochDone?.Invoke(rec);
    }

    internal HdasStageSearch.StageTensors? StageTensors { get; set; }

    public CellSearchResult Result() => CellSearchResult.From(this);

    internal Nb201Table? Table => _table;
    public SearchSplit Split => _split;

    // ------------------------------------------------------------------ checkpoints

    public void SaveCheckpoint()
    {
        if (_out == null) return;
        string dir = Path.Combine(_out, CheckpointDir);
        Directory.CreateDirectory(dir);
        using var scope = NewDisposeScope(); // frees the temporaries State() makes ("seen"); module tensors are not in it
        var tensors = new List<(string, Tensor)>();
        foreach (var (name, t) in Net.state_dict()) tensors.Add(("net." + name, t));
        for (int g = 0; g < Arch.Alphas.Length; g++) tensors.Add(("alpha." + Arch.Names[g], Arch.Alphas[g]));
        foreach (var (n, t) in _sgd.State()) tensors.Add(("sgd." + n, t));
        foreach (var (n, t) in _adam.State()) tensors.Add(("adam." + n, t));
        if (StageTensors is { } st) tensors.AddRange(st.All());
        TensorStore.Save(Path.Combine(dir, "tensors.bin"), tensors);
        AtomicFile.WriteAllText(Path.Combine(dir, "state.json"), JsonSerializer.Serialize(State, CellSearchOutput.Json));
    }

    void LoadCheckpoint(string dir)
    {
        SearchState st;
        try { st = JsonSerializer.Deserialize<SearchState>(File.ReadAllText(Path.Combine(dir, "state.json")), CellSearchOutput.Json)!; }
        catch (JsonException e) { throw new TailorException($"{dir}/state.json: not a search state ({ErrorText.Json(e)})"); }
        if (st.Format != "tailor-cellsearch-state" || st.Version != 1) throw new TailorException($"{dir}/state.json: not a version-1 cell search state");
        var a = JsonSerializer.Serialize(st.Options with { Epochs = 0, StepsPerEpoch = null }, CellSearchOutput.Json);
        var b = JsonSerializer.Serialize(Options with { Epochs = 0, StepsPerEpoch = null }, CellSearchOutput.Json);
        if (a != b) throw new TailorException($"{dir}: the checkpoint was made with other options (method, space, seed, widths...); resume with the same options or choose another --out");
        if (Options.Epochs < st.Options.Epochs && st.EpochsDone > Options.Epochs)
            throw new TailorException($"{dir}: the checkpoint has {st.EpochsDone} epochs done, more than --epochs {Options.Epochs}");
        var t = TensorStore.Load(Path.Combine(dir, "tensors.bin"));
        using (no_grad())
        {
            foreach (var (name, p) in Net.state_dict())
            {
                if (!t.TryGetValue("net." + name, out var v) || !v.shape.SequenceEqual(p.shape)) throw new TailorException($"{dir}: checkpoint misses supernet tensor {name}");
                p.copy_(v);
            }
        }
        Arch.Load(t.Where(kv => kv.Key.StartsWith("alpha.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[6..], kv => kv.Value));
        Arch.CheckFinite("in the checkpoint");
        _sgd.LoadState(t.Where(kv => kv.Key.StartsWith("sgd.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[4..], kv => kv.Value));
        _adam.LoadState(t.Where(kv => kv.Key.StartsWith("adam.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[5..], kv => kv.Value), st.AdamSteps);
        LoadedStageTensors = t.Where(kv => kv.Key.StartsWith("stage.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        st.Options = Options;
        if (st.Complete && st.EpochsDone < Options.Epochs) st.Complete = false; // more epochs asked for: continue
        State = st;
    }

    internal Dictionary<string, Tensor>? LoadedStageTensors { get; private set; }

    public void Dispose()
    {
        _bench?.Dispose();
        _split.Dispose();
        Net.Dispose();
        Arch.Dispose();
        _latency?.Dispose();
    }
}

/// <summary>The cells a search derived: NAS-Bench-201 cells (one per group) or DARTS cells (normal, reduce; or 5 for H-DAS).</summary>
public sealed record DerivedCells(IReadOnlyList<Nb201Cell>? Nb201, IReadOnlyList<DartsCell>? Darts)
{
    public const string CellSeparator = " | ";

    public string Genotype(CellSearch s)
    {
        // H-DAS's stage-specific cells: one genotype per cell, joined by CellSeparator (DARTS cells contain spaces).
        if (Nb201 != null) return Nb201.Count == 1 ? Nb201[0].ToString() : string.Join(CellSeparator, Nb201.Select(c => c.ToString()));
        if (Darts!.Count == 2) return new DartsGenotype(Darts[0], Darts[1]).ToString();
        return string.Join(CellSeparator, Darts.Select(c => c.ToString()));
    }
}
