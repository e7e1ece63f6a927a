using Tailor.Benchmarks;
using Tailor.Data;
using static TorchSharp.torch;
using Tailor.Util;

namespace Tailor.Search.Differentiable;

/// <summary>Opens the images of a cell search (the data issue's <see cref="Datasets"/>; "cifar10" falls back to the shared CIFAR-10 subset).</summary>
public static class SearchData
{
    public const string SpecHelp = Datasets.SpecHelp + " (cifar10 without $TAILOR_DATA: the shared CIFAR-10 subset)";

    public static ImageDataset Open(string spec)
    {
        if (spec == "cifar10" && Datasets.FindCifar10() == null)
        {
            string shared = Path.Combine(SharedData.Root(), "cifar-10-subset");
            if (Directory.Exists(shared)) return Datasets.Open("cifar10:" + shared).Train;
            throw new TailorException($"cifar10: not found ($TAILOR_DATA unset and {shared} missing); pass --data cifar10:DIR");
        }
        return Datasets.Open(spec).Train;
    }
}

/// <summary>
/// The search's two halves of the training images (DARTS: weights train on one, architecture
/// parameters on the other), split stratified by class from the seed, and their loaders: both
/// shuffled and augmented (random crop with 4-pixel zero padding, horizontal flip) with generators
/// derived from (seed, epoch), so an epoch's batches depend on nothing else. Normalised with the
/// training half's channel statistics. A third loader reads the validation half in order, unaugmented,
/// for DARTS-PT's accuracy measurements.
/// </summary>
public sealed class SearchSplit : IDisposable
{
    public ImageDataset Train { get; }
    public ImageDataset Val { get; }
    public Arch.InputShape Shape => Train.Shape;
    public int Classes => Train.Classes;
    public int TrainCount => Train.Count;
    public int ValCount => Val.Count;
    readonly DataLoader _train, _val, _eval;
    readonly long _seed;
    public int Batch { get; }

    public SearchSplit(ImageDataset d, int train, int val, int batch, bool augment, long seed)
    {
        if (train < 1 || val < 1) throw new TailorException($"search split: train ({train}) and validation ({val}) sizes must be positive");
        if (train + val > d.Count) throw new TailorException($"{d.Name}: {d.Count} images, the search split needs {train} + {val}");
        if (batch > train || batch > val) throw new TailorException($"--batch {batch}: larger than a half of the split ({train} / {val})");
        _seed = seed; Batch = batch;
        var (picked, rest) = Splits.Stratified(d.Labels, d.Classes, train, Rng.Derive(seed, "cell-search-split"));
        var (valPicked, _) = Splits.Stratified(d.Subset(rest).Labels, d.Classes, val, Rng.Derive(seed, "cell-search-split-val"));
        Train = d.Subset(picked, d.Name + "/search-train");
        Val = d.Subset(valPicked.Select(i => rest[i]).ToArray(), d.Name + "/search-val");
        var norm = Normalization.Of(Train);
        var aug = augment ? Augmentation.CropFlip : Augmentation.None;
        // NCHW batches: each cell network picks its layout (Layers.ChannelsLast for NAS-Bench-201, Layers.Nchw for DARTS)
        _train = new DataLoader(Train, batch, norm, shuffle: true, augment: aug, dropLast: true);
        _val = new DataLoader(Val, batch, norm, shuffle: true, augment: aug, dropLast: true);
        _eval = new DataLoader(Val, batch, norm, shuffle: false, augment: Augmentation.None, dropLast: false);
    }

    public int StepsPerEpoch => _train.BatchCount;

    /// <summary>
    /// Training and validation batches of one epoch in lockstep (the validation loader restarts with a
    /// new generator when it runs out). The tensors are the loaders' own: use them within the step.
    /// </summary>
    public IEnumerable<(Tensor Xt, Tensor Yt, Tensor Xv, Tensor Yv)> Epoch(long epoch, string stream = "")
    {
        var val = _val.Batches(Rng.Derive(_seed, $"val{stream}-{epoch}-0")).GetEnumerator();
        int pass = 0;
        try
        {
            foreach (var t in _train.Batches(Rng.Derive(_seed, $"train{stream}-{epoch}")))
            {
                if (!val.MoveNext())
                {
                    val.Dispose();
                    val = _val.Batches(Rng.Derive(_seed, $"val{stream}-{epoch}-{++pass}")).GetEnumerator();
                    val.MoveNext();
                }
                yield return (t.Images, t.Labels, val.Current.Images, val.Current.Labels);
            }
        }
        finally { val.Dispose(); }
    }

    /// <summary>The validation half in order, unaugmented (DARTS-PT's measurements).</summary>
    public IEnumerable<(Tensor X, Tensor Y)> EvalBatches()
    {
        foreach (var b in _eval.Batches()) yield return (b.Images, b.Labels);
    }

    public void Dispose() { _train.Dispose(); _val.Dispose(); _eval.Dispose(); }
}
