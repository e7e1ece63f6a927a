using Tailor.Arch;
using Tailor.Data;
using Tailor.Hardware.Onnx;
using Tailor.Models;
using Tailor.Training;
using Tailor.Util;
using TorchSharp;
using static TorchSharp.torch;
using DataLoader = Tailor.Data.DataLoader;

namespace Tailor.Search.Donna;

/// <summary>
/// Builds networks of the block space and initialises them from the teacher (stem, blocks outside
/// the cut range, head, classifier) and the BKD weights of the chosen candidates. A candidate of
/// another width than the teacher's learned, in BKD, to feed the teacher's width through its 1x1
/// adapter (A, a); the layer after it learned (in its own BKD job, or in the teacher) on the
/// teacher's width. Where that layer starts with a 1x1 conv W followed by BN, the adapter is folded
/// into it: W*A is the conv over the narrow input and the constant W*a moves into the BN's running
/// mean, so the assembled pair computes what the two BKD-trained pieces computed in a chain (nothing
/// is added to the architecture). An expansion conv there has fewer output channels than its source
/// (in x e with a narrower input): it takes the leading rows of W*A, and the rest of that layer the
/// leading slices, as every tensor whose shape differs from its source; a depthwise or grouped first
/// layer takes the leading slice alone. <see cref="Load"/> counts each kind.
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

    /// <summary>
    /// The 1x1 conv that reads DONNA block n's output in the assembled network, with the running mean of
    /// the BN after it, for every block n: the next block's expansion conv, a 1x1 conv_bn_act, or the
    /// first head conv after the last block; null where the next layer does not start that way.
    /// </summary>
    public static (string Conv, string Mean)?[] NextPointwise(BlockSpace space, IReadOnlyList<int> choice, IReadOnlyDictionary<string, Tensor> sd)
    {
        var res = new (string, string)?[space.BlockCount];
        int layer = space.Cuts[0].Start;
        bool lastBlock(int i) => !sd.Keys.Any(k => k.StartsWith($"blocks.{i}.", StringComparison.Ordinal));
        for (int n = 0; n < space.BlockCount; n++)
        {
            layer += space.Options[choice[n]].Depth;
            (string, string)? next =
                sd.ContainsKey($"blocks.{layer}.conv_pw.weight") ? ($"blocks.{layer}.conv_pw.weight", $"blocks.{layer}.bn1.running_mean")
                : sd.ContainsKey($"blocks.{layer}.conv.weight") ? ($"blocks.{layer}.conv.weight", $"blocks.{layer}.bn.running_mean")
                : lastBlock(layer) && sd.ContainsKey("head.0.conv.weight") ? ("head.0.conv.weight", "head.0.bn.running_mean")
                : null;
            if (next is { } nx && sd.ContainsKey(nx.Item2) && sd[nx.Item1].shape[2] == 1 && sd[nx.Item1].shape[3] == 1) res[n] = nx;
        }
        return res;
    }

    /// <summary>
    /// Copies teacher and BKD tensors into <paramref name="net"/>, folding adapters into the next 1x1 conv;
    /// returns (tensors copied whole, tensors copied in part, tensors computed by an adapter fold).
    /// </summary>
    public static (int Whole, int Partial, int Folded) Load(ConvNet net, BlockSpace space, IReadOnlyList<int> choice, ConvNet teacher, string expDir)
    {
        var map = KeyMap(space, choice, net);
        var sources = new Dictionary<string, Dictionary<string, Tensor>> { ["teacher"] = teacher.state_dict() };
        var owned = new List<nn.Module>();
        int whole = 0, partial = 0, folded = 0;
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
            var sd = net.state_dict();
            var fold = new Dictionary<string, Tensor>();
            var next = NextPointwise(space, choice, sd);
            for (int n = 0; n < space.BlockCount; n++)
            {
                if (next[n] is not { } nx) continue;
                var (convKey, meanKey) = nx;
                var ad = sources[$"{n},{choice[n]}"];
                if (!ad.TryGetValue("adapter.weight", out var aw) || !ad.TryGetValue("adapter.bias", out var ab)) continue;
                var (cs, ck) = map[convKey]; var (ms, mk) = map[meanKey];
                var w = sources[cs][ck].flatten(1);   // [out, teacher width]: learned on the teacher's features
                var a = aw.flatten(1);                // [teacher width, block width]
                var dst = sd[convKey];
                // an expansion conv is narrower inside too (in x e channels): its leading rows, like every sliced tensor
                long rows = dst.shape[0];
                var mean = sources[ms][mk];
                if (w.shape[1] != a.shape[0] || dst.shape[1] != a.shape[1] || rows > w.shape[0] || mean.shape[0] < rows || sd[meanKey].shape[0] != rows) continue;
                w = w.narrow(0, 0, rows);
                fold[convKey] = w.matmul(a).view(dst.shape);
                fold[meanKey] = mean.narrow(0, 0, rows) - w.matmul(ab);  // BN(Wx + c) with mean mu is BN(Wx) with mean mu - c
            }
            foreach (var (key, dst) in sd)
            {
                if (fold.TryGetValue(key, out var f)) { dst.copy_(f); folded++; continue; }
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
            return (whole, partial, folded);
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

    public const string WeightsSuffix = ".weights.bin", OnnxSuffix = ".onnx";

    public sealed record TrainResult(double ValAcc, double? TestAcc, double Seconds, int Epochs, double FinalLoss, int Whole, int Partial, int Folded);

    /// <summary>
    /// Trains a network of the space: from BKD weights with distillation from the teacher (<paramref name="fromBkd"/>),
    /// or from scratch with cross-entropy (label smoothing 0.1). Evaluates on the validation split and, if given, the test split.
    /// </summary>
    public static TrainResult Train(BlockSpace space, IReadOnlyList<int> choice, ConvNet teacher, string expDir, DonnaConfig c, DonnaData data,
        ImageDataset train, int epochs, double lr, long seed, bool fromBkd, ImageDataset? test = null, double? kdAlpha = null, Action<long, long>? progress = null,
        string? saveTo = null, CancellationToken ct = default)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        torch.manual_seed(seed);
        var arch = space.Build(choice);
        using var net = new ConvNet(arch);
        var (whole, partial, folded) = fromBkd ? Load(net, space, choice, teacher, expDir) : (0, 0, 0);
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
                    return KdLoss(ctx.Logits, t, ctx.Labels, kdAlpha ?? c.KdAlpha, c.KdTemperature);
                };
            }
            long total = (long)loader.BatchCount * epochs;
            double lastLoss = double.NaN;
            trainer.StepEnd = p => { lastLoss = p.Loss; progress?.Invoke(p.Step, total); };
            trainer.Fit(ct: ct);
            if (!double.IsFinite(lastLoss)) throw new JobFailedException($"training loss became {lastLoss} (lower the learning rate)");
            // Fresh BN statistics of the trained weights (a short finetune's running averages still remember its first steps);
            // the order comes from a copy of the seed, so the result does not depend on how training consumed its RNG.
            Trainer.RecalibrateBatchNorm(net, loader, c.BnRecalibration, new Rng(seed ^ 0x5eedb4), channelsLast: true);
            using var valLoader = new DataLoader(data.Val, 256, data.Normalization);
            var val = Trainer.Evaluate(net, valLoader);
            double? testAcc = null;
            if (test != null)
            {
                using var testLoader = new DataLoader(test, 256, data.Normalization);
                testAcc = Trainer.Evaluate(net, testLoader).Accuracy;
            }
            if (saveTo != null)
            {
                // The trained network as a user gets it from tailor train: weights for TorchSharp, ONNX (BN folded) for deployment.
                net.eval();
                Weights.Save(net, saveTo + WeightsSuffix);
                OnnxExport.Save(OnnxExport.FromConvNet(net), saveTo + OnnxSuffix);
            }
            return new TrainResult(val.Accuracy, testAcc, sw.Elapsed.TotalSeconds, epochs, lastLoss, whole, partial, folded);
        }
        finally { (trainer.Optimizer as IDisposable)?.Dispose(); }
    }
}
