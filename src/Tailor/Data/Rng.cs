namespace Tailor.Data;

/// <summary>
/// A small, fast, seedable random generator (xoshiro256**, seeded through SplitMix64) whose whole
/// state is four integers, so a training checkpoint can save and restore it exactly
/// (System.Random cannot be serialised). Used for shuffling, splits and augmentation.
/// </summary>
public sealed class Rng
{
    ulong _s0, _s1, _s2, _s3;

    public Rng(long seed)
    {
        ulong x = unchecked((ulong)seed);
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    Rng(ulong[] state) => SetState(state);

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A generator for a named sub-stream of a seed (independent of the order of use of other streams).</summary>
    public static Rng Derive(long seed, string stream)
    {
        ulong h = 0xCBF29CE484222325UL; // FNV-1a
        foreach (char c in stream) { h ^= c; h *= 0x100000001B3UL; }
        return new Rng(unchecked(seed ^ (long)h));
    }

    public ulong NextUInt64()
    {
        ulong result = RotL(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotL(_s3, 45);
        return result;
    }

    static ulong RotL(ulong x, int k) => (x << k) | (x >> (64 - k));

    /// <summary>Uniform integer in [0, n) without modulo bias (Lemire's method).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        ulong un = (ulong)n;
        UInt128 m = (UInt128)NextUInt64() * un;
        ulong low = (ulong)m;
        if (low < un)
        {
            ulong threshold = (0UL - un) % un;
            while (low < threshold)
            {
                m = (UInt128)NextUInt64() * un;
                low = (ulong)m;
            }
        }
        return (int)(m >> 64);
    }

    /// <summary>Uniform double in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    public ulong[] GetState() => new[] { _s0, _s1, _s2, _s3 };

    public void SetState(ulong[] state)
    {
        if (state.Length != 4 || (state[0] | state[1] | state[2] | state[3]) == 0)
            throw new ArgumentException("expected four words, not all zero", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
    }

    public static Rng FromState(ulong[] state) => new(state);
}
