namespace Tailor.Util;

/// <summary>Small statistics helpers: quantiles, prediction-error metrics, Kendall tau-b.</summary>
public static class Stats
{
    /// <summary>Quantile with linear interpolation between order statistics (numpy's default, "type 7").</summary>
    public static double Quantile(IReadOnlyList<double> xs, double q)
    {
        if (xs.Count == 0) throw new ArgumentException("empty sample");
        var s = xs.OrderBy(x => x).ToArray();
        return QuantileSorted(s, q);
    }

    public static double QuantileSorted(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    public static double Median(IReadOnlyList<double> xs) => Quantile(xs, 0.5);

    /// <summary>Interquartile range Q3 - Q1.</summary>
    public static double Iqr(IReadOnlyList<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return QuantileSorted(s, 0.75) - QuantileSorted(s, 0.25);
    }

    public static double Mean(IReadOnlyList<double> xs) => xs.Average();

    /// <summary>Sample standard deviation (n - 1); 0 for a single value.</summary>
    public static double Std(IReadOnlyList<double> xs)
    {
        if (xs.Count < 2) return 0;
        double m = xs.Average();
        return Math.Sqrt(xs.Sum(x => (x - m) * (x - m)) / (xs.Count - 1));
    }

    /// <summary>Coefficient of variation std / mean.</summary>
    public static double Cv(IReadOnlyList<double> xs) => Std(xs) / xs.Average();

    /// <summary>Median absolute deviation (unscaled).</summary>
    public static double Mad(IReadOnlyList<double> xs)
    {
        double m = Median(xs);
        return Median(xs.Select(x => Math.Abs(x - m)).ToList());
    }

    /// <summary>Robust coefficient of variation: 1.4826 * MAD / median (equals std/mean for normal data).</summary>
    public static double RobustCv(IReadOnlyList<double> xs) => 1.4826 * Mad(xs) / Median(xs);

    /// <summary>Mean absolute percentage error, as a fraction (0.05 = 5%).</summary>
    public static double Mape(IReadOnlyList<double> predicted, IReadOnlyList<double> actual)
    {
        Check(predicted, actual);
        return predicted.Zip(actual, (p, a) => Math.Abs(p - a) / Math.Abs(a)).Average();
    }

    public static double Rmse(IReadOnlyList<double> predicted, IReadOnlyList<double> actual)
    {
        Check(predicted, actual);
        return Math.Sqrt(predicted.Zip(actual, (p, a) => (p - a) * (p - a)).Average());
    }

    /// <summary>Share of predictions within +-<paramref name="k"/> (relative, 0.1 = 10%) of the actual value (nn-Meter's figure of merit).</summary>
    public static double WithinK(IReadOnlyList<double> predicted, IReadOnlyList<double> actual, double k = 0.1)
    {
        Check(predicted, actual);
        return predicted.Zip(actual, (p, a) => Math.Abs(p - a) <= k * Math.Abs(a) ? 1.0 : 0.0).Average();
    }

    /// <summary>
    /// Kendall tau-b (ties in either variable corrected), O(n log n) by Knight's algorithm:
    /// sort by (x, y), count discordant pairs as merge-sort swaps of y.
    /// </summary>
    public static double KendallTauB(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        Check(x, y);
        int n = x.Count;
        if (n < 2) return double.NaN;
        var idx = Enumerable.Range(0, n).OrderBy(i => x[i]).ThenBy(i => y[i]).ToArray();
        long n0 = (long)n * (n - 1) / 2;
        // ties in x, and joint ties in (x, y)
        long n1 = 0, n3 = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && x[idx[j + 1]] == x[idx[i]]) j++;
            long t = j - i + 1;
            n1 += t * (t - 1) / 2;
            for (int a = i; a <= j;)
            {
                int b = a;
                while (b + 1 <= j && y[idx[b + 1]] == y[idx[a]]) b++;
                long u = b - a + 1;
                n3 += u * (u - 1) / 2;
                a = b + 1;
            }
            i = j + 1;
        }
        var ys = idx.Select(i => y[i]).ToArray();
        long swaps = MergeCount(ys, new double[n], 0, n);
        // ys is now sorted: ties in y
        long n2 = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && ys[j + 1] == ys[i]) j++;
            long t = j - i + 1;
            n2 += t * (t - 1) / 2;
            i = j + 1;
        }
        double num = n0 - n1 - n2 + n3 - 2.0 * swaps;
        double den = Math.Sqrt((double)(n0 - n1) * (n0 - n2));
        return den == 0 ? double.NaN : num / den;
    }

    static long MergeCount(double[] a, double[] tmp, int lo, int hi)
    {
        if (hi - lo < 2) return 0;
        int mid = (lo + hi) / 2;
        long c = MergeCount(a, tmp, lo, mid) + MergeCount(a, tmp, mid, hi);
        int i = lo, j = mid, k = lo;
        while (i < mid && j < hi)
        {
            if (a[j] < a[i]) { c += mid - i; tmp[k++] = a[j++]; }
            else tmp[k++] = a[i++];
        }
        while (i < mid) tmp[k++] = a[i++];
        while (j < hi) tmp[k++] = a[j++];
        Array.Copy(tmp, lo, a, lo, hi - lo);
        return c;
    }

    /// <summary>Ordinary least squares y = a + b x.</summary>
    public static (double A, double B) LinearFit(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        Check(x, y);
        double mx = x.Average(), my = y.Average();
        double sxx = 0, sxy = 0;
        for (int i = 0; i < x.Count; i++) { sxx += (x[i] - mx) * (x[i] - mx); sxy += (x[i] - mx) * (y[i] - my); }
        if (sxx == 0) return (my - mx, 1);
        double b = sxy / sxx;
        return (my - b * mx, b);
    }

    /// <summary>Solves A x = b for a symmetric positive definite A (Cholesky); A and b are not modified.</summary>
    public static double[] SolveSymmetric(double[,] a, double[] b)
    {
        int n = b.Length;
        var l = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = a[i, j];
                for (int k = 0; k < j; k++) sum -= l[i, k] * l[j, k];
                if (i == j)
                {
                    if (sum <= 0) throw new InvalidOperationException("matrix is not positive definite");
                    l[i, i] = Math.Sqrt(sum);
                }
                else l[i, j] = sum / l[j, j];
            }
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            double sum = b[i];
            for (int k = 0; k < i; k++) sum -= l[i, k] * y[k];
            y[i] = sum / l[i, i];
        }
        var x = new double[n];
        for (int i = n - 1; i >= 0; i--)
        {
            double sum = y[i];
            for (int k = i + 1; k < n; k++) sum -= l[k, i] * x[k];
            x[i] = sum / l[i, i];
        }
        return x;
    }

    static void Check(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        if (a.Count != b.Count) throw new ArgumentException($"length mismatch: {a.Count} vs {b.Count}");
        if (a.Count == 0) throw new ArgumentException("empty sample");
    }
}
