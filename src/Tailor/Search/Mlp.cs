using System.Numerics;
using System.Runtime.InteropServices;

namespace Tailor.Search;

/// <summary>
/// A small fully connected regressor (ReLU hidden layers, linear output) trained full-batch with
/// Adam on standardised targets; pure C#, deterministic for a seed, fast enough to refit in
/// milliseconds on a few hundred samples. Sparse inputs (one-hot codes) are exploited in the first layer.
/// </summary>
public sealed class Mlp
{
    readonly int[] _sizes;
    readonly float[][] _w, _b;   // _w[l]: [in][out] row-major
    float _yMean, _yStd = 1;

    public Mlp(int inputs, IReadOnlyList<int> hidden, ulong seed)
    {
        if (inputs < 1 || hidden.Any(h => h < 1)) throw new TailorException("mlp: layer sizes must be positive");
        _sizes = [inputs, .. hidden, 1];
        var rng = new Rng(seed);
        _w = new float[_sizes.Length - 1][];
        _b = new float[_sizes.Length - 1][];
        for (int l = 0; l < _w.Length; l++)
        {
            int fin = _sizes[l], fout = _sizes[l + 1];
            _w[l] = new float[fin * fout];
            _b[l] = new float[fout];
            double bound = Math.Sqrt(6.0 / fin); // He-uniform for ReLU
            for (int i = 0; i < _w[l].Length; i++) _w[l][i] = (float)((rng.NextDouble() * 2 - 1) * bound);
        }
    }

    static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var va = new Vector<float>(a);
            var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            for (int k = 0; k < vx.Length; k++) vy[k] += va * vx[k];
            i = vx.Length * Vector<float>.Count;
        }
        for (; i < x.Length; i++) y[i] += a * x[i];
    }

    static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        int i = 0; float s = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var acc = Vector<float>.Zero;
            var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            for (int k = 0; k < vx.Length; k++) acc += vx[k] * vy[k];
            s = Vector.Dot(acc, Vector<float>.One);
            i = vx.Length * Vector<float>.Count;
        }
        for (; i < x.Length; i++) s += x[i] * y[i];
        return s;
    }

    /// <summary>Forward pass; acts[l] receives layer l's output (acts[0] = input, ReLU applied to hidden layers).</summary>
    void Forward(ReadOnlySpan<float> x, float[][] acts)
    {
        x.CopyTo(acts[0]);
        for (int l = 0; l < _w.Length; l++)
        {
            int fout = _sizes[l + 1];
            var z = acts[l + 1].AsSpan();
            _b[l].CopyTo(z);
            var a = acts[l];
            for (int i = 0; i < a.Length; i++)
                if (a[i] != 0) Axpy(a[i], _w[l].AsSpan(i * fout, fout), z);
            if (l < _w.Length - 1)
                for (int j = 0; j < z.Length; j++) if (z[j] < 0) z[j] = 0;
        }
    }

    float[][] NewActs() => _sizes.Select(s => new float[s]).ToArray();

    /// <summary>Fits the targets y (any scale) to the rows of x.</summary>
    public void Fit(IReadOnlyList<float[]> x, IReadOnlyList<double> y, int epochs = 200, double lr = 0.01, double weightDecay = 1e-4)
    {
        int n = x.Count;
        if (n == 0) return;
        double mean = y.Average(), var = y.Sum(v => (v - mean) * (v - mean)) / n;
        _yMean = (float)mean; _yStd = (float)(var > 1e-12 ? Math.Sqrt(var) : 1);
        var yt = y.Select(v => (float)((v - mean) / _yStd)).ToArray();

        int L = _w.Length;
        var gw = _w.Select(w => new float[w.Length]).ToArray();
        var gb = _b.Select(b => new float[b.Length]).ToArray();
        var mw = _w.Select(w => new float[w.Length]).ToArray(); var vw = _w.Select(w => new float[w.Length]).ToArray();
        var mb = _b.Select(b => new float[b.Length]).ToArray(); var vb = _b.Select(b => new float[b.Length]).ToArray();
        var acts = NewActs();
        var deltas = _sizes.Select(s => new float[s]).ToArray();
        const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            foreach (var g in gw) Array.Clear(g);
            foreach (var g in gb) Array.Clear(g);
            for (int s = 0; s < n; s++)
            {
                Forward(x[s], acts);
                deltas[L][0] = 2f * (acts[L][0] - yt[s]) / n;
                for (int l = L - 1; l >= 0; l--)
                {
                    int fout = _sizes[l + 1];
                    var d = deltas[l + 1];
                    Axpy(1f, d, gb[l]);
                    var a = acts[l];
                    var dprev = deltas[l];
                    for (int i = 0; i < a.Length; i++)
                    {
                        var wrow = _w[l].AsSpan(i * fout, fout);
                        if (a[i] != 0) Axpy(a[i], d, gw[l].AsSpan(i * fout, fout));
                        // delta of the previous hidden layer through ReLU (not needed for the input layer)
                        dprev[i] = l > 0 && a[i] > 0 ? Dot(wrow, d) : 0f;
                    }
                }
            }
            float c1 = 1f - MathF.Pow(b1, epoch), c2 = 1f - MathF.Pow(b2, epoch);
            float step = (float)lr * MathF.Sqrt(c2) / c1;
            for (int l = 0; l < L; l++)
            {
                Adam(_w[l], gw[l], mw[l], vw[l], step, (float)weightDecay);
                Adam(_b[l], gb[l], mb[l], vb[l], step, 0f);
            }
        }

        static void Adam(float[] p, float[] g, float[] m, float[] v, float step, float wd)
        {
            for (int i = 0; i < p.Length; i++)
            {
                float gi = g[i] + wd * p[i];
                m[i] = b1 * m[i] + (1 - b1) * gi;
                v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                p[i] -= step * m[i] / (MathF.Sqrt(v[i]) + eps);
            }
        }
    }

    public double Predict(ReadOnlySpan<float> x)
    {
        var acts = NewActs();
        Forward(x, acts);
        return acts[^1][0] * _yStd + _yMean;
    }

    public double[] Predict(IReadOnlyList<float[]> x)
    {
        var acts = NewActs();
        var res = new double[x.Count];
        for (int i = 0; i < x.Count; i++) { Forward(x[i], acts); res[i] = acts[^1][0] * _yStd + _yMean; }
        return res;
    }
}
