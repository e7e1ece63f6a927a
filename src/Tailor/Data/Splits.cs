using System.Globalization;
using Tailor.Util;

namespace Tailor.Data;

/// <summary>How many images go to validation: a fraction of the set (0 &lt;= f &lt; 1) or a count.</summary>
public readonly record struct ValSplit(double? Fraction, int? Count)
{
    public static ValSplit None => new(0, null);

    /// <summary>"0.1" is a fraction, "5000" a count, "0" none.</summary>
    public static ValSplit Parse(string s)
    {
        s = s.Trim();
        if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            return n == 0 ? None : new ValSplit(null, n);
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && f >= 0 && f < 1)
            return new ValSplit(f, null);
        throw new TailorException($"--val-split '{s}': expected a fraction in [0, 1) (e.g. 0.1) or a whole number of images (e.g. 5000)");
    }

    public int CountFor(int total)
    {
        int k = Count ?? (int)Math.Round(total * (Fraction ?? 0));
        if (k >= total) throw new TailorException($"--val-split: {k} validation images leave none of the {total} for training");
        return k;
    }

    public override string ToString() => Count is int c ? c.ToString(CultureInfo.InvariantCulture) : (Fraction ?? 0).ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>Deterministic, stratified subsets and train/validation splits (same seed, same split).</summary>
public static class Splits
{
    /// <summary>
    /// Picks <paramref name="k"/> of the images, stratified by class (each class contributes in
    /// proportion to its size; largest remainders settle the rounding). Returns (picked, rest), both ascending.
    /// </summary>
    public static (int[] Picked, int[] Others) Stratified(byte[] labels, int classes, int k, Rng rng)
    {
        int n = labels.Length;
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"cannot pick {k} of {n}");
        var byClass = new List<int>[classes];
        for (int c = 0; c < classes; c++) byClass[c] = new List<int>();
        for (int i = 0; i < n; i++) byClass[labels[i]].Add(i);
        var quota = new int[classes];
        var rem = new (double Frac, int Class)[classes];
        int assigned = 0;
        for (int c = 0; c < classes; c++)
        {
            double exact = n == 0 ? 0 : (double)byClass[c].Count * k / n;
            quota[c] = (int)Math.Floor(exact);
            assigned += quota[c];
            rem[c] = (exact - quota[c], c);
        }
        foreach (var (_, c) in rem.OrderByDescending(r => r.Frac).ThenBy(r => r.Class))
        {
            if (assigned >= k) break;
            if (quota[c] < byClass[c].Count) { quota[c]++; assigned++; }
        }
        var mark = new bool[n];
        for (int c = 0; c < classes; c++)
        {
            var idx = byClass[c].ToArray();
            rng.Shuffle(idx);
            for (int j = 0; j < quota[c]; j++) mark[idx[j]] = true;
        }
        var picked = new List<int>(k);
        var rest = new List<int>(n - k);
        for (int i = 0; i < n; i++) (mark[i] ? picked : rest).Add(i);
        return (picked.ToArray(), rest.ToArray());
    }

    /// <summary>A stratified random subset of <paramref name="k"/> images (the whole set when k &gt;= count).</summary>
    public static ImageDataset Subset(ImageDataset d, int k, long seed)
    {
        if (k >= d.Count) return d;
        var (picked, _) = Stratified(d.Labels, d.Classes, k, Rng.Derive(seed, "subset"));
        return d.Subset(picked, d.Name);
    }

    /// <summary>Splits a training set into (train, validation), stratified and deterministic by seed.</summary>
    public static (ImageDataset Train, ImageDataset? Val) TrainVal(ImageDataset d, ValSplit split, long seed)
    {
        int k = split.CountFor(d.Count);
        if (k == 0) return (d, null);
        var (val, train) = Stratified(d.Labels, d.Classes, k, Rng.Derive(seed, "val-split"));
        return (d.Subset(train, d.Name + "/train"), d.Subset(val, d.Name + "/val"));
    }
}
