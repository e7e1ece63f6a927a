using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using Tailor.Util;

namespace Tailor.Data;

/// <summary>Per-channel normalisation: x = (pixel / 255 - mean) / std.</summary>
public sealed record Normalization(double[] Mean, double[] Std)
{
    /// <summary>Mean and standard deviation measured on <paramref name="d"/> (use the training split).</summary>
    public static Normalization Of(ImageDataset d)
    {
        var (m, s) = d.ChannelStats();
        return new Normalization(m.Select(v => Math.Round(v, 4)).ToArray(), s.Select(v => Math.Round(v, 4)).ToArray());
    }

    public static Normalization Identity(int channels) => new(new double[channels], Enumerable.Repeat(1.0, channels).ToArray());

    /// <summary>Lookup table [channel * 256 + byte] of normalised values.</summary>
    internal float[] Table(int channels)
    {
        if (Mean.Length != channels || Std.Length != channels)
            throw new TailorException($"normalisation has {Mean.Length} channels, the images have {channels}");
        var t = new float[channels * 256];
        for (int c = 0; c < channels; c++)
            for (int v = 0; v < 256; v++)
                t[c * 256 + v] = (float)((v / 255.0 - Mean[c]) / Std[c]);
        return t;
    }
}

/// <summary>
/// One batch. The tensors belong to the loader and are overwritten by the next batch: use them
/// within the step (copy them to keep them).
/// </summary>
public readonly record struct Batch(Tensor Images, Tensor Labels, int Count, int Index);

/// <summary>
/// Batches from an in-memory <see cref="ImageDataset"/>: optional shuffling and augmentation drawn
/// from a caller-owned <see cref="Rng"/> (so the data order is part of a checkpoint), normalised
/// through a lookup table straight into one reusable input tensor. Nothing is allocated per
/// sample or per batch in the loop.
/// </summary>
public sealed class DataLoader : IDisposable
{
    const int Pad = 4;
    readonly float[] _lut;
    readonly int[] _order;
    readonly Tensor _images, _labels;
    readonly Tensor? _lastImages, _lastLabels;
    readonly int _lastCount;
    readonly float[] _imageBuf;
    readonly long[] _labelBuf;
    Tensor? _imagesCl, _lastImagesCl;

    public ImageDataset Data { get; }
    public int BatchSize { get; }
    public bool Shuffle { get; }
    public bool DropLast { get; }
    public Augmentation Augment { get; }
    public Normalization Normalization { get; }
    public int BatchCount { get; }
    /// <summary>Images one pass yields (less than the set when the last partial batch is dropped).</summary>
    public int ImagesPerEpoch { get; }
    /// <summary>
    /// Yield the images in channels-last memory order (same shape), into reused tensors: what
    /// <see cref="Models.Layers.ChannelsLast"/> would make of each batch, without a copy per batch.
    /// </summary>
    public bool ChannelsLast { get; init; }

    public DataLoader(ImageDataset data, int batchSize, Normalization normalization, bool shuffle = false,
        Augmentation augment = Augmentation.None, bool dropLast = false)
    {
        if (batchSize < 1) throw new TailorException($"--batch: expected >= 1 (got {batchSize})");
        if (data.Count == 0) throw new TailorException($"{data.Name}: no images");
        Data = data; BatchSize = batchSize; Shuffle = shuffle; Augment = augment; Normalization = normalization;
        // Dropping the last partial batch keeps batch statistics even; never drop everything.
        DropLast = dropLast && data.Count >= batchSize;
        BatchCount = DropLast ? data.Count / batchSize : (data.Count + batchSize - 1) / batchSize;
        ImagesPerEpoch = DropLast ? BatchCount * batchSize : data.Count;
        _lut = normalization.Table(data.Channels);
        _order = Enumerable.Range(0, data.Count).ToArray();
        int b = Math.Min(batchSize, data.Count);
        _imageBuf = new float[(long)b * data.SampleSize];
        _labelBuf = new long[b];
        using (torch.NewDisposeScope())
        {
            _images = torch.empty(new long[] { b, data.Channels, data.Height, data.Width }, float32).DetachFromDisposeScope();
            _labels = torch.empty(new long[] { b }, int64).DetachFromDisposeScope();
            _lastCount = ImagesPerEpoch % b;
            if (_lastCount != 0)
            {
                _lastImages = _images.narrow(0, 0, _lastCount).DetachFromDisposeScope();
                _lastLabels = _labels.narrow(0, 0, _lastCount).DetachFromDisposeScope();
            }
        }
    }

    /// <summary>
    /// One pass over the data. Shuffling and augmentation draw from <paramref name="rng"/> (required
    /// when either is on), in a fixed order: the permutation first, then three draws per image.
    /// </summary>
    public IEnumerable<Batch> Batches(Rng? rng = null)
    {
        bool random = Shuffle || Augment != Augmentation.None;
        if (random && rng == null) throw new ArgumentNullException(nameof(rng), "a shuffling or augmenting loader needs an Rng");
        // Start from the identity each pass, so the order depends on the generator alone (not on earlier passes).
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (Shuffle) rng!.Shuffle(_order);
        for (int bi = 0; bi < BatchCount; bi++)
        {
            int start = bi * BatchSize;
            int n = Math.Min(BatchSize, ImagesPerEpoch - start);
            Fill(start, n, rng);
            bool partial = n != _images.shape[0];
            var images = partial ? _lastImages! : _images;
            if (ChannelsLast) images = ToChannelsLast(images, partial);
            yield return new Batch(images, partial ? _lastLabels! : _labels, n, bi);
        }
    }

    void Fill(int start, int n, Rng? rng)
    {
        int c = Data.Channels, h = Data.Height, w = Data.Width, plane = h * w, size = Data.SampleSize;
        var px = Data.Pixels;
        var dstAll = _imageBuf.AsSpan();
        for (int i = 0; i < n; i++)
        {
            int src = _order[start + i];
            _labelBuf[i] = Data.Labels[src];
            var s = px.AsSpan(src * size, size);
            var d = dstAll.Slice(i * size, size);
            if (Augment == Augmentation.CropFlip)
            {
                int oy = rng!.Next(2 * Pad + 1) - Pad, ox = rng.Next(2 * Pad + 1) - Pad;
                bool flip = rng.Next(2) == 1;
                CropFlip(s, d, c, h, w, oy, ox, flip);
            }
            else
            {
                for (int ch = 0; ch < c; ch++)
                {
                    var lut = _lut.AsSpan(ch * 256, 256);
                    var sp = s.Slice(ch * plane, plane);
                    var dp = d.Slice(ch * plane, plane);
                    for (int k = 0; k < plane; k++) dp[k] = lut[sp[k]];
                }
            }
        }
        var target = n == _images.shape[0] ? _images : _lastImages!;
        var targetLabels = n == _images.shape[0] ? _labels : _lastLabels!;
        CopyInto(target, _imageBuf.AsSpan(0, n * size));
        CopyInto(targetLabels, _labelBuf.AsSpan(0, n));
    }

    /// <summary>out(y, x) = in(y + oy, flip ? w-1-x+ox : x + ox), zero pixel (normalised) outside.</summary>
    void CropFlip(ReadOnlySpan<byte> s, Span<float> d, int c, int h, int w, int oy, int ox, bool flip)
    {
        int plane = h * w;
        for (int ch = 0; ch < c; ch++)
        {
            var lut = _lut.AsSpan(ch * 256, 256);
            float zero = lut[0];
            var sp = s.Slice(ch * plane, plane);
            var dp = d.Slice(ch * plane, plane);
            for (int y = 0; y < h; y++)
            {
                int sy = y + oy;
                var row = dp.Slice(y * w, w);
                if ((uint)sy >= (uint)h) { row.Fill(zero); continue; }
                var srow = sp.Slice(sy * w, w);
                for (int x = 0; x < w; x++)
                {
                    int sx = (flip ? w - 1 - x : x) + ox;
                    row[x] = (uint)sx < (uint)w ? lut[srow[sx]] : zero;
                }
            }
        }
    }

    Tensor ToChannelsLast(Tensor nchw, bool partial)
    {
        ref var buf = ref partial ? ref _lastImagesCl : ref _imagesCl;
        if (buf is null)
            using (torch.NewDisposeScope())
            {
                long[] s = nchw.shape;
                buf = torch.empty(new[] { s[0], s[2], s[3], s[1] }, float32).permute(0, 3, 1, 2).DetachFromDisposeScope();
            }
        buf.copy_(nchw);
        return buf;
    }

    static void CopyInto<T>(Tensor t, ReadOnlySpan<T> src) where T : unmanaged
    {
        var dst = MemoryMarshal.Cast<byte, T>(t.bytes);
        src.CopyTo(dst);
    }

    public void Dispose()
    {
        _images.Dispose(); _labels.Dispose();
        _lastImages?.Dispose(); _lastLabels?.Dispose();
        _imagesCl?.Dispose(); _lastImagesCl?.Dispose();
    }
}
