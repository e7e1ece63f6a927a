using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;
using Tailor.Util;

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

    // Elementwise y += a x and the dot product, 8 floats at a time without bounds checks. The
    // arithmetic (and the order of the dot product's sums) is the same as Vector<float>'s on AVX2.
    static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref ry, (nuint)i) + va * Vector256.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref ry, i) += a * Unsafe.Add(ref rx, i);
    }

    static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        float s = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8) acc += Vector256.LoadUnsafe(ref rx, (nuint)i) * Vector256.LoadUnsafe(ref ry, (nuint)i);
            s = Vector<float>.Count == 8 ? Vector.Dot(acc.AsVector(), Vector<float>.One) : Vector256.Sum(acc);
        }
        for (; i < n; i++) s += Unsafe.Add(ref rx, i) * Unsafe.Add(ref ry, i);
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
            var w = _w[l];
            if (fout == 1)
            {
                // the output unit: the same sums in the same order, without a call per input
                float acc = z[0];
                for (int i = 0; i < a.Length; i++) if (a[i] != 0) acc += a[i] * w[i];
                z[0] = acc;
            }
            else if (fout == 32 && Vector256.IsHardwareAccelerated) Dense32(a, w, z);
            else
                for (int i = 0; i < a.Length; i++)
                    if (a[i] != 0) Axpy(a[i], w.AsSpan(i * fout, fout), z);
            if (l < _w.Length - 1)
                for (int j = 0; j < z.Length; j++) if (z[j] < 0) z[j] = 0;
        }
    }

    /// <summary>z += sum_i a_i W[i, :] for 32 outputs held in four registers (same sums, same order as the Axpy loop).</summary>
    static void Dense32(float[] a, float[] w, Span<float> z)
    {
        ref float rz = ref MemoryMarshal.GetReference(z);
        ref float rw = ref MemoryMarshal.GetArrayDataReference(w);
        var z0 = Vector256.LoadUnsafe(ref rz, 0); var z1 = Vector256.LoadUnsafe(ref rz, 8);
        var z2 = Vector256.LoadUnsafe(ref rz, 16); var z3 = Vector256.LoadUnsafe(ref rz, 24);
        for (int i = 0; i < a.Length; i++)
        {
            float ai = a[i];
            if (ai == 0) continue;
            var va = Vector256.Create(ai);
            nuint o = (nuint)(i * 32);
            z0 += va * Vector256.LoadUnsafe(ref rw, o); z1 += va * Vector256.LoadUnsafe(ref rw, o + 8);
            z2 += va * Vector256.LoadUnsafe(ref rw, o + 16); z3 += va * Vector256.LoadUnsafe(ref rw, o + 24);
        }
        z0.StoreUnsafe(ref rz, 0); z1.StoreUnsafe(ref rz, 8); z2.StoreUnsafe(ref rz, 16); z3.StoreUnsafe(ref rz, 24);
    }

    /// <summary>The backward step of a 32-output layer with the output delta in registers: g[i, :] += a_i d, dprev_i = W[i, :] . d (through ReLU).</summary>
    static void Back32(float[] a, float[] w, float[] g, float[] d, float[] dprev, bool needPrev)
    {
        ref float rd = ref MemoryMarshal.GetArrayDataReference(d);
        ref float rw = ref MemoryMarshal.GetArrayDataReference(w);
        ref float rg = ref MemoryMarshal.GetArrayDataReference(g);
        var d0 = Vector256.LoadUnsafe(ref rd, 0); var d1 = Vector256.LoadUnsafe(ref rd, 8);
        var d2 = Vector256.LoadUnsafe(ref rd, 16); var d3 = Vector256.LoadUnsafe(ref rd, 24);
        for (int i = 0; i < a.Length; i++)
        {
            float ai = a[i];
            nuint o = (nuint)(i * 32);
            if (ai != 0)
            {
                var va = Vector256.Create(ai);
                (Vector256.LoadUnsafe(ref rg, o) + va * d0).StoreUnsafe(ref rg, o);
                (Vector256.LoadUnsafe(ref rg, o + 8) + va * d1).StoreUnsafe(ref rg, o + 8);
                (Vector256.LoadUnsafe(ref rg, o + 16) + va * d2).StoreUnsafe(ref rg, o + 16);
                (Vector256.LoadUnsafe(ref rg, o + 24) + va * d3).StoreUnsafe(ref rg, o + 24);
            }
            if (!needPrev) continue;
            if (ai > 0)
            {
                var acc = Vector256<float>.Zero;
                acc += Vector256.LoadUnsafe(ref rw, o) * d0; acc += Vector256.LoadUnsafe(ref rw, o + 8) * d1;
                acc += Vector256.LoadUnsafe(ref rw, o + 16) * d2; acc += Vector256.LoadUnsafe(ref rw, o + 24) * d3;
                dprev[i] = Vector<float>.Count == 8 ? Vector.Dot(acc.AsVector(), Vector<float>.One) : Vector256.Sum(acc);
            }
            else dprev[i] = 0f;
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
                    var w = _w[l]; var g = gw[l];
                    if (fout == 1)
                    {
                        float d0 = d[0];
                        for (int i = 0; i < a.Length; i++)
                        {
                            if (a[i] != 0) g[i] += a[i] * d0;
                            dprev[i] = l > 0 && a[i] > 0 ? w[i] * d0 : 0f;
                        }
                    }
                    else if (fout == 32 && Vector256.IsHardwareAccelerated) Back32(a, w, g, d, dprev, l > 0);
                    else
                        for (int i = 0; i < a.Length; i++)
                        {
                            if (a[i] != 0) Axpy(a[i], d, g.AsSpan(i * fout, fout));
                            // delta of the previous hidden layer through ReLU (not needed for the input layer)
                            if (l > 0) dprev[i] = a[i] > 0 ? Dot(w.AsSpan(i * fout, fout), d) : 0f;
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
