using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Tailor.Util;

/// <summary>
/// Tailor's one general-purpose PRNG: xoshiro256** seeded through <see cref="SplitMix64"/>. Its whole
/// state is four 64-bit words, so a training checkpoint or a strategy can save it and resume
/// bit-identically (System.Random's state cannot be saved). Used for shuffling, splits, augmentation
/// and every strategy's proposals; never a global instance.
/// </summary>
public sealed class Rng
{
    ulong _s0, _s1, _s2, _s3;

    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64.Next(ref x); _s1 = SplitMix64.Next(ref x); _s2 = SplitMix64.Next(ref x); _s3 = SplitMix64.Next(ref x);
    }

    /// <summary>Same stream as the unsigned seed with the same bits.</summary>
    public Rng(long seed) : this(unchecked((ulong)seed)) { }

    Rng() { }

    /// <summary>A generator for a named sub-stream of a seed (independent of the order in which other streams are used).</summary>
    public static Rng Derive(long seed, string stream)
    {
        ulong h = 0xCBF29CE484222325UL; // FNV-1a
        foreach (char c in stream) { h ^= c; h *= 0x100000001B3UL; }
        return new Rng(unchecked(seed ^ (long)h));
    }

    public ulong NextULong()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform integer in [0, n), unbiased (Lemire's method).</summary>
    public int Next(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), "n must be positive");
        ulong range = (ulong)n;
        UInt128 m = (UInt128)NextULong() * range;
        ulong low = (ulong)m;
        if (low < range)
        {
            ulong threshold = (0UL - range) % range;
            while (low < threshold)
            {
                m = (UInt128)NextULong() * range;
                low = (ulong)m;
            }
        }
        return (int)(m >> 64);
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Standard normal (Box-Muller, no cached second value so the state stays four words).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Fisher-Yates shuffle in place (arrays convert to spans).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>Fisher-Yates shuffle of a list in place (the same draws as for an array of its length).</summary>
    public void Shuffle<T>(List<T> list) => Shuffle(CollectionsMarshal.AsSpan(list));

    /// <summary>A fresh seed for a child generator (e.g. a predictor's initialisation).</summary>
    public ulong NextSeed() => NextULong();

    // Two saved forms, both kept because files in the wild use them: strategies write the state as one
    // hex string, training checkpoints as a JSON array of four words.

    /// <summary>The state as 64 hex digits (strategy state JSON).</summary>
    public string State => $"{_s0:x16}{_s1:x16}{_s2:x16}{_s3:x16}";

    public static Rng FromState(string state)
    {
        if (state is not { Length: 64 } || !state.All(Uri.IsHexDigit))
            throw new TailorException($"rng state: expected 64 hex digits, got '{state}'");
        ulong P(int i) => ulong.Parse(state.AsSpan(i * 16, 16), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return FromWords(P(0), P(1), P(2), P(3));
    }

    /// <summary>The state as four words (training checkpoints).</summary>
    public ulong[] GetState() => new[] { _s0, _s1, _s2, _s3 };

    public static Rng FromState(ulong[] state)
    {
        if (state is not { Length: 4 }) throw new TailorException($"rng state: expected four words, got {state?.Length ?? 0}");
        return FromWords(state[0], state[1], state[2], state[3]);
    }

    static Rng FromWords(ulong a, ulong b, ulong c, ulong d)
    {
        if ((a | b | c | d) == 0) throw new TailorException("rng state: all-zero state is invalid");
        return new Rng { _s0 = a, _s1 = b, _s2 = c, _s3 = d };
    }
}

/// <summary>
/// SplitMix64, the 64-bit mixer that seeds <see cref="Rng"/>. Also used on its own to derive seeds
/// (<see cref="Mix(long, long)"/>: torch generators of the cell searches) and for DARTS-PT's random
/// edge order, whose recorded results depend on exactly these draws.
/// </summary>
public static class SplitMix64
{
    /// <summary>Advances the one-word state and returns the next output.</summary>
    public static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A seed for sub-stream b of seed a.</summary>
    public static long Mix(long a, long b)
    {
        ulong s = unchecked((ulong)(a * 0x632BE59BD9B4E019L + b));
        return unchecked((long)Next(ref s));
    }

    public static long Mix(long a, long b, long c) => Mix(Mix(a, b), c);

    /// <summary>A non-negative seed for the next sub-stream of a SplitMix64 state.</summary>
    public static long NextNonNegative(ref ulong state) => (long)(Next(ref state) >> 1);

    /// <summary>A seeded permutation of 0..n-1 (Fisher-Yates on SplitMix64 draws; modulo is fine for these tiny n).</summary>
    public static int[] Permutation(int n, long seed)
    {
        ulong s = unchecked((ulong)seed);
        var p = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--) { int j = (int)(Next(ref s) % (ulong)(i + 1)); (p[i], p[j]) = (p[j], p[i]); }
        return p;
    }
}
