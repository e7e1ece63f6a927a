using System.Numerics;
using System.Globalization;

namespace Tailor.Search;

/// <summary>
/// A small deterministic PRNG (xoshiro256**, seeded through SplitMix64) whose whole state is four
/// 64-bit words, so a strategy can save it to JSON and resume bit-identically. System.Random's
/// state cannot be saved, which is why strategies use this instead; never a global RNG.
/// </summary>
public sealed class Rng
{
    ulong _s0, _s1, _s2, _s3;

    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    Rng() { }

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
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

    public void Shuffle<T>(IList<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    /// <summary>A fresh seed for a child generator (e.g. a predictor's initialisation).</summary>
    public ulong NextSeed() => NextULong();

    /// <summary>The state as 64 hex digits (saved in strategy state JSON).</summary>
    public string State => $"{_s0:x16}{_s1:x16}{_s2:x16}{_s3:x16}";

    public static Rng FromState(string state)
    {
        if (state is not { Length: 64 } || !state.All(Uri.IsHexDigit))
            throw new TailorException($"rng state: expected 64 hex digits, got '{state}'");
        ulong P(int i) => ulong.Parse(state.AsSpan(i * 16, 16), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var r = new Rng { _s0 = P(0), _s1 = P(1), _s2 = P(2), _s3 = P(3) };
        if ((r._s0 | r._s1 | r._s2 | r._s3) == 0) throw new TailorException("rng state: all-zero state is invalid");
        return r;
    }
}
