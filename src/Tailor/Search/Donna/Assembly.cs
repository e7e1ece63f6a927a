using Tailor.Util;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Models;
using Tailor.Training;
using TorchSharp;
using static TorchSharp.torch;
using DataLoader = Tailor.Data.DataLoader;

namespace Tailor.Search.Donna;

/// <summary>
/// Builds networks of the block space and initialises them from the teacher (stem, blocks outside
/// the cut range, head, classifier) and the BKD weights of the chosen candidates (the adapters are
/// dropped). Where a width choice makes a tensor's shape differ from its source (the first layer
/// after a block of another width), the leading slice of the source is copied and the rest keeps
/// its initialisation; <see cref="Load"/> counts those tensors.
/// </summary>
public static class Assembly
{
    /// <summary>Source key of every key of the assembled network: ("teacher", key) or ("n,m", key in the candidate).</summary>
    public static Dictionary<string, (string Source, string Key)> KeyMap(BlockSpace space, IReadOnlyList<int> choice, ConvNet net)
    {
        var map = new Dictionary<string, (string, string)>();
        int start = space.Cuts[0].Start, end = space.Cuts[^1].End;
        var blockSource = new List<(string Src, string Prefix)>();
        for (int i = 0; i < start; i++) blockSource.Add(("teacher", $"blocks.{i}."));
        for (int n = 0; n < space.BlockCount; n++)
            for (int j = 0; j < space.Options[choice[n]].Depth; j++) blockSource.Add(($"{n},{choice[n]}", $"layers.{j}."));
        for (int i = end; i < space.Reference.Blocks.Count; i++) blockSource.Add(("teacher", $"blocks.{i}."));
        foreach (var (key, _) in net.state_dict())
        {
            if (key.StartsWith("blocks.", StringComparison.Ordinal))
            {
                int dot = key.IndexOf('.', 7);
                int idx = int.Parse(key[7..dot], System.Globalization.CultureInfo.InvariantCulture);
                var (src, prefix) = blockSource[idx];
                map[key] = (src, prefix + key[(dot + 1)..]);
            }
            else map[key] = ("teacher", key);
        }
        return map;
    }

    /// <summary>Copies teacher and BKD tensors into <paramref name="net"/>; returns (tensors copied whole, tensors copied in part).</summary>
    public static (int Whole, int Partial) Load(ConvNet net, BlockSpace space, IReadOnlyList<int> choice, ConvNet teacher, string expDir)
    {
        var map = KeyMap(space, choice, net);
        var sources = new Dictionary<string, Dictionary<string, Tensor>> { ["teacher"] = teacher.state_dict() };
        var owned = new List<nn.Module>();
        int whole = 0, partial = 0;
        try
        {
            foreach (var src in map.Values.Select(v => v.Source).Distinct().Where(s => s != "teacher"))
            {
                var nm = src.Split(',').Select(int.Parse).ToArray();
                var input = TeacherFeatures.BoundaryShapes(space)[nm[0]];
                var cand = new CandidateBlock(space, nm[0], space.Options[nm[1]], input);
                string path = BkdTrainer.WeightsPath(expDir, nm[0], nm[1]);
                if (!File.Exists(path))
                    throw new TailorException($"{path}: BKD weights of block {nm[0]} candidate {nm[1]} ({space.Options[nm[1]].Name}) are missing; run tailor donna bkd --experiment {expDir} --block {nm[0]} --candidate {nm[1]}");
                Weights.Load(cand, path);
                owned.Add(cand);
                sources[src] = cand.state_dict();
            }
            using var ng = torch.no_grad();
            foreach (var (key, dst) in net.state_dict())
            {
                var (src, skey) = map[key];
                if (!sources[src].TryGetValue(skey, out var s))
                    throw new TailorException($"assembly: {key} has no source tensor {skey} in {(src == "teacher" ? "the teacher" : "candidate " + src)}");
                if (s.shape.SequenceEqual(dst.shape)) { dst.copy_(s); whole++; continue; }
                if (s.dim() != dst.dim()) throw new TailorException($"assembly: {key}: shape [{string.Join(",", dst.shape)}] cannot take [{string.Join(",", s.shape)}]");
                var a = dst; var b = s;
                for (int d = 0; d < dst.dim(); d++)
                {
                    long len = Math.Min(dst.shape[d], s.shape[d]);
                    a = a.narrow(d, 0, len); b = b.narrow(d, 0, len);
                }
                a.copy_(b);
                partial++;
            }
            return (whole, partial);
        }
        finally { foreach (var m in owned) m.Dispose(); }
    }

    /// <summary>Distillation loss: alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y).</summary>
    public static Tensor KdLoss(Tensor student, Tensor teacherLogits, Tensor labels, double alpha, double temperature)
    {
        var logP = nn.functional.log_softmax(student.Over(temperature), 1);
        var logQ = nn.functional.log_softmax(teacherLogits.Over(temperature), 1);
        var kl = (logQ.exp() * (logQ - logP)).sum(1).mean(); // KL(q || p) per image, averaged
        var ce = nn.functional.cross_entropy(student, labels);
        return kl.Times(alpha * temperature * temperature).Plus(ce.Times(1 - alpha));
    }

    public sealed record TrainResult(double ValAcc, double? TestAcc, double Seconds, int Epochs, double FinalLoss, int Whole, int Partial);

    /// <summary>
    /// Trains a network of the space: from BKD weights with distillation from the teacher (<paramref name="fromBkd"/>),
    /// or from scratch with cross-entropy (label smoothing 0.1). Evaluates on the validation split and, if given, the test split.
    /// </summary>
    public static TrainResult Train(BlockSpace space, IReadOnlyList<int> choice, ConvNet teacher, string expDir, DonnaConfig c, DonnaData data,
        ImageDataset train, int epochs, double lr, long seed, bool fromBkd, ImageDataset? test = null, Action<long, long>? progress = null, CancellationToken ct = default)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        torch.manual_seed(seed);
        var arch = space.Build(choice);
        using var net = new ConvNet(arch);
        var (whole, partial) = fromBkd ? Load(net, space, choice, teacher, expDir) : (0, 0);
        var cfg = new TrainConfig
        {
            Epochs = epochs, BatchSize = Math.Min(c.LibraryBatch, train.Count), Optimizer = "sgd", Lr = lr, Momentum = 0.9, WeightDecay = 4e-5,
            LabelSmoothing = fromBkd ? 0 : 0.1, Schedule = "cosine", Seed = seed,
        };
        using var loader = new DataLoader(train, cfg.BatchSize, data.Normalization, shuffle: true, augment: data.Augmentation, dropLast: true);
        var trainer = new Trainer(net, cfg, loader);
        try
        {
            if (fromBkd)
            {
                teacher.eval();
                trainer.Criterion = ctx =>
                {
                    Tensor t;
                    using (torch.no_grad()) t = teacher.call(ctx.Images);
                    return KdLoss(ctx.Logits, t, ctx.Labels, c.KdAlpha, c.KdTemperature);
                };
            }
            long total = (long)loader.BatchCount * epochs;
            double lastLoss = double.NaN;
            trainer.StepEnd = p => { lastLoss = p.Loss; progress?.Invoke(p.Step, total); };
            trainer.Fit(ct: ct);
            if (!double.IsFinite(lastLoss)) throw new JobFailedException($"training loss became {lastLoss} (lower the learning rate)");
            // Fresh BN statistics of the trained weights (a short finetune's running averages still remember its first steps);
            // the order comes from a copy of the seed, so the result does not depend on how training consumed its RNG.
            Trainer.RecalibrateBatchNorm(net, loader, c.BnRecalibration, new Tailor.Data.Rng(seed ^ 0x5eedb4), channelsLast: true);
            using var valLoader = new DataLoader(data.Val, 256, data.Normalization);
            var val = Trainer.Evaluate(net, valLoader);
            double? testAcc = null;
            if (test != null)
            {
                using var testLoader = new DataLoader(test, 256, data.Normalization);
                testAcc = Trainer.Evaluate(net, testLoader).Accuracy;
            }
            return new TrainResult(val.Accuracy, testAcc, sw.Elapsed.TotalSeconds, epochs, lastLoss, whole, partial);
        }
        finally { (trainer.Optimizer as IDisposable)?.Dispose(); }
    }
}
