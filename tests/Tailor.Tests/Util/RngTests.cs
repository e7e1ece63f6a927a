using Tailor.Util;

namespace Tailor.Tests.Util;

/// <summary>Tailor's one PRNG (xoshiro256**) and its seeder (SplitMix64).</summary>
public class RngTests
{
    [Fact]
    public void MatchesTheReferenceAlgorithms()
    {
        // SplitMix64 from state 0 and xoshiro256** seeded through it with 42, computed with an
        // independent Python transcription of the published algorithms: recorded results depend on these streams.
        ulong s = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, SplitMix64.Next(ref s));
        var r = new Rng(42UL);
        Assert.Equal(0x15780B2E0C2EC716UL, r.NextULong());
        Assert.Equal(0x6104D9866D113A7EUL, r.NextULong());
        Assert.Equal(0xAE17533239E499A1UL, r.NextULong());
        // the signed seed with the same bits gives the same stream
        Assert.Equal(new Rng(-5L).NextULong(), new Rng(unchecked((ulong)-5L)).NextULong());
    }

    [Fact]
    public void DeterministicAndResumableInBothSavedForms()
    {
        var a = new Rng(42); var b = new Rng(42);
        for (int i = 0; i < 100; i++) Assert.Equal(a.NextULong(), b.NextULong());
        var c = Rng.FromState(a.State);
        var d = Rng.FromState(a.GetState());
        for (int i = 0; i < 100; i++) { int x = a.Next(1000); Assert.Equal(x, c.Next(1000)); Assert.Equal(x, d.Next(1000)); }
        Assert.Equal(c.State, d.State);
        Assert.NotEqual(new Rng(1).NextULong(), new Rng(2).NextULong());
        Assert.Throws<TailorException>(() => Rng.FromState("xyz"));
        Assert.Throws<TailorException>(() => Rng.FromState(new string('0', 64)));
        Assert.Throws<TailorException>(() => Rng.FromState(new ulong[4]));
        Assert.Throws<TailorException>(() => Rng.FromState(new ulong[] { 1, 2, 3 }));
    }

    [Fact]
    public void DerivedStreamsAreStableAndDistinct()
    {
        Assert.NotEqual(Rng.Derive(1, "x").NextULong(), Rng.Derive(1, "y").NextULong());
        Assert.Equal(Rng.Derive(1, "x").NextULong(), Rng.Derive(1, "x").NextULong());
        Assert.NotEqual(SplitMix64.Mix(1, 2), SplitMix64.Mix(2, 1));
        Assert.Equal(SplitMix64.Mix(SplitMix64.Mix(7, 1), 2), SplitMix64.Mix(7, 1, 2));
    }

    [Fact]
    public void BoundsAndUniformity()
    {
        var r = new Rng(3);
        var counts = new int[9];
        for (int i = 0; i < 90000; i++) counts[r.Next(9)]++;
        Assert.All(counts, n => Assert.InRange(n, 9500, 10500));
        for (int i = 0; i < 1000; i++) Assert.InRange(r.NextDouble(), 0.0, 0.9999999999);
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Next(0));
    }

    [Fact]
    public void ShufflesArePermutationsAndBothOverloadsDrawAlike()
    {
        var list = Enumerable.Range(0, 50).ToList();
        Span<int> span = Enumerable.Range(0, 50).ToArray();
        new Rng(9).Shuffle(list);
        new Rng(9).Shuffle(span);
        Assert.Equal(list, span.ToArray());
        Assert.Equal(Enumerable.Range(0, 50), list.Order());
        Assert.NotEqual(Enumerable.Range(0, 50), list);
        var p = SplitMix64.Permutation(14, 123);
        Assert.Equal(Enumerable.Range(0, 14), p.Order());
        Assert.Equal(p, SplitMix64.Permutation(14, 123));
    }
}
