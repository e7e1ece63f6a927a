using Tailor.Training.Optimizers;
using System.IO.MemoryMappedFiles;
using System.Text.Json.Nodes;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Models;
using Tailor.Training;
using Tailor.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Search.Donna;

/// <summary>
/// A candidate replacement of block n, alone: its MBConv layers (keys layers.{j}.*, named as in
/// <see cref="ConvNet"/>'s blocks, so they drop into an assembled network) and, where its output
/// width differs from the teacher's, a 1x1 adapter (adapter.*) that maps it to the teacher's width
/// for the loss. The adapter is used during distillation only.
/// </summary>
public sealed class CandidateBlock : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layers;
    private readonly Conv2d? adapter;
    public int Depth { get; }
    public int OutChannels { get; }

    public CandidateBlock(BlockSpace space, int n, BlockChoice choice, InputShape input) : base("CandidateBlock")
    {
        var blocks = space.BlockLayers(n, choice);
        var mini = new Architecture { Name = $"block{n}:{choice.Name}", Input = input, Classes = 1, Blocks = blocks };
        var an = ArchAnalysis.Analyze(mini, $"block {n} candidate {choice.Name}");
        layers = new ModuleList<nn.Module<Tensor, Tensor>>(an.Layers.Take(blocks.Count).Select(l => ConvNet.Make(l, BuildOptions.Default)).ToArray());
        Depth = blocks.Count;
        OutChannels = an.Layers[blocks.Count - 1].OutChannels;
        int teacherOut = space.TeacherOut(n);
        if (OutChannels != teacherOut) adapter = Layers.Conv(OutChannels, teacherOut, 1, bias: true);
        RegisterComponents();
        Layers.Initialize(this, BuildOptions.Default);
    }

    public bool HasAdapter => adapter != null;

    /// <summary>The block's own output (what the next block of an assembled network receives).</summary>
    public Tensor Features(Tensor x)
    {
        foreach (var l in layers) x = l.call(x);
        return x;
    }

    public override Tensor forward(Tensor x)
    {
        var h = Features(x);
        return adapter == null ? h : adapter.call(h);
    }
}

/// <summary>Noise-to-signal ratio: (1/C) sum_c mean((Y_c - Yhat_c)^2) / var(Y_c), the variance being the teacher channel's.</summary>
public static class Nsr
{
    public static Tensor Loss(Tensor predicted, Tensor teacher, Tensor channelVar) =>
        ((predicted - teacher).Squared().mean(new long[] { 0, 2, 3 }) / channelVar).mean();
}

/// <summary>
/// The data of an experiment, split exactly as `tailor train` splits it for the same settings
/// (stratified subset, then stratified train/validation split by seed), plus the BKD subsets
/// (the first images of a stratified draw from each split).
/// </summary>
public sealed class DonnaData
{
    public DataSource Source { get; }
    public ImageDataset Train { get; }
    public ImageDataset Val { get; }
    public ImageDataset BkdTrain { get; }
    public ImageDataset BkdVal { get; }
    public Normalization Normalization { get; }
    public Augmentation Augmentation => Source.DefaultAugmentation;

    public DonnaData(DonnaConfig c)
    {
        Source = Datasets.Open(c.Data);
        var full = c.Subset is int k ? Splits.Subset(Source.Train, k, c.Seed) : Source.Train;
        var (train, val) = Splits.TrainVal(full, ValSplit.Parse(c.ValSplit), c.Seed);
        if (val == null) throw new TailorException($"--val-split {c.ValSplit}: DONNA needs held-out images (for block quality and library accuracy); use e.g. 0.1");
        Train = train; Val = val;
        BkdTrain = Splits.Subset(train, c.BkdImages, c.Seed + 1);
        BkdVal = Splits.Subset(val, c.BkdValImages, c.Seed + 2);
        Normalization = Normalization.Of(train);
    }

    /// <summary>Normalised images [n, C, H, W] of <paramref name="idx"/>.</summary>
    public Tensor Images(ImageDataset d, ReadOnlySpan<int> idx)
    {
        var lut = Normalization.Table(d.Channels);
        int size = d.SampleSize, plane = d.Height * d.Width;
        var buf = new float[idx.Length * size];
        for (int i = 0; i < idx.Length; i++)
        {
            var s = d.Pixels.AsSpan(idx[i] * size, size);
            for (int ch = 0; ch < d.Channels; ch++)
                for (int p = 0; p < plane; p++) buf[i * size + ch * plane + p] = lut[ch * 256 + s[ch * plane + p]];
        }
        return torch.tensor(buf, new long[] { idx.Length, d.Channels, d.Height, d.Width });
    }
}

/// <summary>
/// Teacher activations at the N+1 block boundaries of the space (input of block 0 ... output of the
/// last block), on the BKD training and held-out images. Cached on disk as raw float32 files
/// (features/{train,val}_{k}.f32, memory-mapped on read) when they fit the configured size,
/// else recomputed from the teacher for every batch; the channel variances (for NSR) are always
/// stored (features/index.json, written last: its presence means the cache is complete).
/// </summary>
public sealed class TeacherFeatures : IDisposable
{
    public const string IndexFile = "index.json";
    readonly string _dir;
    readonly BlockSpace _space;
    readonly ConvNet _teacher;
    readonly DonnaData _data;
    readonly Dictionary<string, (MemoryMappedFile File, MemoryMappedViewAccessor View)> _maps = new();

    public bool Cached { get; }
    public IReadOnlyList<InputShape> Shapes { get; }
    readonly Tensor[] _varTrain, _varVal;

    TeacherFeatures(string dir, BlockSpace space, ConvNet teacher, DonnaData data, bool cached, List<InputShape> shapes, double[][] vt, double[][] vv)
    {
        _dir = dir; _space = space; _teacher = teacher; _data = data; Cached = cached; Shapes = shapes;
        _varTrain = vt.Select(v => torch.tensor(v.Select(x => (float)Math.Max(x, 1e-8)).ToArray()).DetachFromDisposeScope()).ToArray();
        _varVal = vv.Select(v => torch.tensor(v.Select(x => (float)Math.Max(x, 1e-8)).ToArray()).DetachFromDisposeScope()).ToArray();
    }

    /// <summary>Reference-network block indices of the boundaries: Cuts[n].Start for every block, then the last block's end.</summary>
    public static int[] Boundaries(BlockSpace s) => s.Cuts.Select(c => c.Start).Append(s.Cuts[^1].End).ToArray();

    /// <summary>Runs the teacher on a batch, returning its activations at the boundaries [from, to] (inclusive).</summary>
    public static List<Tensor> TeacherAt(ConvNet teacher, BlockSpace s, Tensor x, int from, int to)
    {
        var b = Boundaries(s);
        var outs = new List<Tensor>();
        foreach (var m in teacher.Stem) x = m.call(x);
        for (int i = 0; i <= b[to]; i++)
        {
            for (int k = from; k <= to; k++) if (b[k] == i) outs.Add(x);
            if (i < b[to]) x = teacher.Blocks[i].call(x);
        }
        return outs;
    }

    public static List<InputShape> BoundaryShapes(BlockSpace s)
    {
        var an = ArchAnalysis.Analyze(s.Reference);
        int stem = s.Reference.Stem.Count;
        return Boundaries(s).Select(i =>
        {
            var l = an.Layers[stem + i - 1 < 0 ? 0 : stem + i - 1];
            return i == 0 && stem == 0 ? s.Reference.Input : new InputShape(l.OutChannels, l.OutH, l.OutW);
        }).ToList();
    }

    /// <summary>Computes the features (and variances) into <paramref name="dir"/>; returns the index JSON.</summary>
    public static JsonObject Build(string dir, BlockSpace space, ConvNet teacher, DonnaData data, long maxBytes, Action<int, int>? progress = null)
    {
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(dir)) File.Delete(f); // leftovers of a killed run
        var shapes = BoundaryShapes(space);
        long per = shapes.Sum(s => (long)s.Channels * s.Height * s.Width) * 4;
        bool cache = per * (data.BkdTrain.Count + data.BkdVal.Count) <= maxBytes;
        teacher.eval();
        var index = new JsonObject { ["format"] = "tailor-donna-features", ["cached"] = cache, ["train_count"] = data.BkdTrain.Count, ["val_count"] = data.BkdVal.Count,
            ["shapes"] = new JsonArray(shapes.Select(s => (JsonNode)s.ToString()).ToArray()) };
        int totalBatches = (data.BkdTrain.Count + 255) / 256 + (data.BkdVal.Count + 255) / 256, done = 0;
        foreach (var (split, d) in new[] { ("train", data.BkdTrain), ("val", data.BkdVal) })
        {
            var sums = shapes.Select(s => new double[s.Channels]).ToArray();
            var sqs = shapes.Select(s => new double[s.Channels]).ToArray();
            var tmp = shapes.Select((_, k) => Path.Combine(dir, $".{split}_{k}.f32.tmp")).ToArray();
            var streams = cache ? tmp.Select(p => new FileStream(p, FileMode.Create, FileAccess.Write)).ToArray() : null;
            try
            {
                for (int start = 0; start < d.Count; start += 256)
                {
                    int n = Math.Min(256, d.Count - start);
                    using var scope = torch.NewDisposeScope();
                    using var ng = torch.no_grad();
                    var idx = Enumerable.Range(start, n).ToArray();
                    var outs = TeacherAt(teacher, space, data.Images(d, idx), 0, shapes.Count - 1);
                    for (int k = 0; k < outs.Count; k++)
                    {
                        var t = outs[k].contiguous();
                        var sum = t.sum(new long[] { 0, 2, 3 }).to_type(ScalarType.Float64).data<double>().ToArray();
                        var sq = t.Squared().sum(new long[] { 0, 2, 3 }).to_type(ScalarType.Float64).data<double>().ToArray();
                        for (int c = 0; c < sum.Length; c++) { sums[k][c] += sum[c]; sqs[k][c] += sq[c]; }
                        if (streams != null) streams[k].Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.data<float>().ToArray().AsSpan()));
                    }
                    progress?.Invoke(++done, totalBatches);
                }
            }
            finally { if (streams != null) foreach (var s in streams) s.Dispose(); }
            if (cache) for (int k = 0; k < tmp.Length; k++) File.Move(tmp[k], Path.Combine(dir, $"{split}_{k}.f32"), overwrite: true);
            var vars = new JsonArray();
            for (int k = 0; k < shapes.Count; k++)
            {
                double m = (double)d.Count * shapes[k].Height * shapes[k].Width;
                vars.Add(new JsonArray(sums[k].Select((s, c) => (JsonNode)(sqs[k][c] / m - (s / m) * (s / m))).ToArray()));
            }
            index[$"{split}_var"] = vars;
        }
        Util.AtomicFile.WriteAllText(Path.Combine(dir, IndexFile), index.ToJsonString() + "\n");
        return index;
    }

    public static TeacherFeatures Open(string dir, BlockSpace space, ConvNet teacher, DonnaData data)
    {
        string ip = Path.Combine(dir, IndexFile);
        if (!File.Exists(ip)) throw new TailorException($"{ip}: teacher features not computed yet (the features job has not finished)");
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(ip))!.AsObject();
            var shapes = BoundaryShapes(space);
            var stored = o["shapes"]!.AsArray().Select(n => (string)n!).ToArray();
            if (!stored.SequenceEqual(shapes.Select(s => s.ToString())) || (int)o["train_count"]! != data.BkdTrain.Count || (int)o["val_count"]! != data.BkdVal.Count)
                throw new TailorException($"{ip}: the cached teacher features do not match this experiment's space or data");
            double[][] V(string k) => o[k]!.AsArray().Select(a => a!.AsArray().Select(v => (double)v!).ToArray()).ToArray();
            bool cached = (bool)o["cached"]!;
            var f = new TeacherFeatures(dir, space, teacher, data, cached, shapes, V("train_var"), V("val_var"));
            if (cached)
                foreach (var split in new[] { "train", "val" })
                    for (int k = 0; k < shapes.Count; k++)
                    {
                        string p = Path.Combine(dir, $"{split}_{k}.f32");
                        long expect = (long)(split == "train" ? data.BkdTrain.Count : data.BkdVal.Count) * shapes[k].Channels * shapes[k].Height * shapes[k].Width * 4;
                        if (!File.Exists(p) || new FileInfo(p).Length != expect)
                            throw new TailorException($"{p}: teacher feature file missing or truncated (expected {expect} bytes); delete {ip} to recompute the features");
                        var mm = MemoryMappedFile.CreateFromFile(p, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
                        f._maps[$"{split}_{k}"] = (mm, mm.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read));
                    }
            return f;
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or System.Text.Json.JsonException)
        {
            throw new TailorException($"{ip}: corrupt teacher feature index ({e.Message.Split('\n')[0]}); delete it to recompute the features");
        }
    }

    public Tensor Variance(string split, int k) => split == "train" ? _varTrain[k] : _varVal[k];

    Tensor Read(string split, int k, int[] idx)
    {
        var s = Shapes[k];
        int size = s.Channels * s.Height * s.Width;
        var buf = new float[idx.Length * size];
        var view = _maps[$"{split}_{k}"].View;
        for (int i = 0; i < idx.Length; i++) view.ReadArray((long)idx[i] * size * 4, buf, i * size, size);
        return torch.tensor(buf, new long[] { idx.Length, s.Channels, s.Height, s.Width });
    }

    /// <summary>The teacher's (input, output) of block n on the given images of a split.</summary>
    public (Tensor Input, Tensor Output) Pair(string split, int n, int[] idx)
    {
        if (Cached) return (Read(split, n, idx), Read(split, n + 1, idx));
        using var ng = torch.no_grad();
        var d = split == "train" ? _data.BkdTrain : _data.BkdVal;
        var outs = TeacherAt(_teacher, _space, _data.Images(d, idx), n, n + 1);
        return (outs[0], outs[1]);
    }

    public int Count(string split) => split == "train" ? _data.BkdTrain.Count : _data.BkdVal.Count;

    public void Dispose()
    {
        foreach (var (f, v) in _maps.Values) { v.Dispose(); f.Dispose(); }
        _maps.Clear();
        foreach (var t in _varTrain.Concat(_varVal)) t.Dispose();
    }
}

/// <summary>Blockwise knowledge distillation of one block's candidates on shared teacher batches.</summary>
public static class BkdTrainer
{
    public sealed record Result(int Candidate, double Nsr, double TrainNsr, long Params, bool Adapter, string? Error);

    public static string WeightsPath(string expDir, int n, int m) => Path.Combine(expDir, "bkd", $"b{n}_c{m}.bin");

    public static long SeedOf(long seed, int n, int m) => Rng.Derive(seed, $"bkd-{n}-{m}").Next(int.MaxValue);

    /// <summary>
    /// Trains the given candidates of block n together: every batch of teacher features is read once
    /// and used by each candidate (each with its own Adam optimizer and seed, so a candidate's result
    /// does not depend on which others run with it). Saves each candidate's weights atomically and
    /// returns its held-out NSR; a candidate whose loss becomes non-finite is reported with an error.
    /// </summary>
    public static List<Result> TrainBlock(string expDir, DonnaConfig c, BlockSpace space, TeacherFeatures f, int n, IReadOnlyList<int> candidates,
        Action<long, long>? progress = null, CancellationToken ct = default)
    {
        var input = f.Shapes[n];
        var mods = new List<CandidateBlock>();
        var opts = new List<optim.Optimizer>();
        var errors = new string?[candidates.Count];
        var trainSum = new double[candidates.Count];
        var trainCount = new int[candidates.Count];
        try
        {
            foreach (int m in candidates)
            {
                torch.manual_seed(SeedOf(c.Seed, n, m));
                var mod = new CandidateBlock(space, n, space.Options[m], input);
                mods.Add(mod);
                opts.Add(new KeptScalarAdam(mod.parameters(), c.BkdLr));
            }
            int count = f.Count("train");
            int batch = Math.Min(c.BkdBatch, count);
            int steps = count / batch;
            long total = (long)steps * c.BkdEpochs, step = 0;
            var order = Enumerable.Range(0, count).ToArray();
            var vt = f.Variance("train", n + 1);
            foreach (var mod in mods) mod.train();
            for (int e = 0; e < c.BkdEpochs; e++)
            {
                for (int i = 0; i < count; i++) order[i] = i;
                Rng.Derive(c.Seed, $"bkd-block-{n}-epoch-{e}").Shuffle(order);
                for (int s = 0; s < steps; s++)
                {
                    ct.ThrowIfCancellationRequested();
                    double lr = c.BkdLr * 0.5 * (1 + Math.Cos(Math.PI * step / total));
                    using (var scope = torch.NewDisposeScope())
                    {
                        var (x, y) = f.Pair("train", n, order.AsSpan(s * batch, batch).ToArray());
                        x = Tailor.Models.Layers.ChannelsLast(x);
                        for (int j = 0; j < mods.Count; j++)
                        {
                            if (errors[j] != null) continue;
                            foreach (var g in opts[j].ParamGroups) g.LearningRate = lr;
                            opts[j].zero_grad();
                            var loss = Nsr.Loss(mods[j].call(x), y, vt);
                            double lv = loss.item<float>();
                            if (!double.IsFinite(lv)) { errors[j] = $"NSR loss became {lv} at step {step + 1} of {total} (lower --bkd-lr)"; continue; }
                            loss.backward();
                            opts[j].step();
                            if (e == c.BkdEpochs - 1) { trainSum[j] += lv; trainCount[j]++; }
                        }
                    }
                    progress?.Invoke(++step, total);
                }
            }
            var nsr = Evaluate(mods, f, n);
            var results = new List<Result>();
            for (int j = 0; j < mods.Count; j++)
            {
                string? err = errors[j] ?? (double.IsFinite(nsr[j]) ? null : $"held-out NSR is {nsr[j]}");
                if (err == null) Weights.Save(mods[j], WeightsPath(expDir, n, candidates[j]));
                results.Add(new Result(candidates[j], nsr[j], trainCount[j] > 0 ? trainSum[j] / trainCount[j] : double.NaN,
                    mods[j].parameters().Sum(p => p.numel()), mods[j].HasAdapter, err));
            }
            return results;
        }
        finally
        {
            foreach (var o in opts) o.Dispose();
            foreach (var m in mods) m.Dispose();
        }
    }

    /// <summary>Held-out NSR of each module (eval mode): per channel, summed squared error over all held-out images over the teacher variance, averaged over channels.</summary>
    public static double[] Evaluate(IReadOnlyList<CandidateBlock> mods, TeacherFeatures f, int n)
    {
        int count = f.Count("val");
        var vv = f.Variance("val", n + 1);
        var sse = mods.Select(_ => (Tensor?)null).ToArray();
        foreach (var m in mods) m.eval();
        long elems = 0;
        using var ng = torch.no_grad();
        try
        {
            for (int start = 0; start < count; start += 256)
            {
                int b = Math.Min(256, count - start);
                using var scope = torch.NewDisposeScope();
                var (x, y) = f.Pair("val", n, Enumerable.Range(start, b).ToArray());
                x = Tailor.Models.Layers.ChannelsLast(x);
                elems += (long)b * y.shape[2] * y.shape[3];
                for (int j = 0; j < mods.Count; j++)
                {
                    var e = (mods[j].call(x) - y).Squared().to_type(ScalarType.Float64).sum(new long[] { 0, 2, 3 });
                    var acc = sse[j] is null ? e : sse[j]!.Plus(e);
                    sse[j]?.Dispose();
                    sse[j] = acc.DetachFromDisposeScope();
                }
            }
            return sse.Select(s => (s! / elems / vv.to_type(ScalarType.Float64)).mean().item<double>()).ToArray();
        }
        finally
        {
            foreach (var s in sse) s?.Dispose();
            foreach (var m in mods) m.train();
        }
    }
}
