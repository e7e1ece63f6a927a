using System.Globalization;
using Tailor.Arch;
using Tailor.Search.SinglePath;

namespace Tailor.Search.Trained;

/// <summary>
/// A <see cref="LayeredSpace"/> (one choice index per searchable layer) as an <see cref="ISearchSpace{TArch}"/>,
/// optionally restricted to a latency band of its table: only architectures whose calibrated LUT
/// latency lies in [target*(1-band), target*(1+band)] are sampled, mutated to or crossed into.
/// The band is two-sided (default +-5%) because that is what the Single-Path NAS controller
/// guarantees its table latency, so a random-search baseline drawn from it competes at equal latency.
/// Sampling is rejection sampling from the uniform distribution over the whole space, hence uniform
/// over the architectures in the band. Keys are the choice indices joined by '-' ("2-0-1-...").
/// </summary>
public sealed class LayeredSearchSpace : ISearchSpace<int[]>
{
    /// <summary>Uniform draws tried before <see cref="Sample"/> gives up on the band.</summary>
    public const int MaxSampleTries = 200_000;

    public LayeredSpace Space { get; }
    public LayerLatencies? Table { get; }
    public double? TargetMs { get; }
    public double Band { get; }
    /// <summary>The latency band [Lo, Hi] in ms (infinite without a table).</summary>
    public double Lo { get; } = double.NegativeInfinity;
    public double Hi { get; } = double.PositiveInfinity;
    readonly int[] _offsets;

    public LayeredSearchSpace(LayeredSpace space, LayerLatencies? table = null, double? targetMs = null, double band = 0.05)
    {
        Space = space; Table = table; TargetMs = targetMs; Band = band;
        if (targetMs != null && table == null) throw new TailorException("latency band: a target needs a latency table");
        if (targetMs is double t)
        {
            if (!(band >= 0 && band < 1)) throw new TailorException($"--band: expected a fraction in [0, 1) (got {band.ToString(CultureInfo.InvariantCulture)})");
            var (mn, mx) = table!.Range();
            if (!(t >= mn && t <= mx))
                throw new TailorException($"latency target {t:F3} ms is outside the range the table can reach on this space: {mn:F3} .. {mx:F3} ms");
            Lo = t * (1 - band); Hi = t * (1 + band);
        }
        _offsets = new int[space.LayerCount + 1];
        for (int l = 0; l < space.LayerCount; l++) _offsets[l + 1] = _offsets[l] + space.Choices(l).Count;
    }

    public string Name => TargetMs is double t
        ? $"{Space.Name}@{t.ToString("G6", CultureInfo.InvariantCulture)}ms+-{Band.ToString("G4", CultureInfo.InvariantCulture)}"
        : Space.Name;
    public double Size => Space.Size;
    public IReadOnlyList<int[]>? All => null;
    public int FeatureCount => _offsets[^1];

    /// <summary>Calibrated LUT latency of <paramref name="a"/> (NaN without a table).</summary>
    public double Latency(IReadOnlyList<int> a) => Table?.Predict(a) ?? double.NaN;

    public bool InBand(IReadOnlyList<int> a)
    {
        if (TargetMs == null) return true;
        double ms = Latency(a);
        return ms >= Lo && ms <= Hi;
    }

    int[] Uniform(Rng rng)
    {
        var c = new int[Space.LayerCount];
        for (int l = 0; l < c.Length; l++) c[l] = rng.Next(Space.Choices(l).Count);
        return c;
    }

    public int[] Sample(Rng rng)
    {
        for (int t = 0; t < MaxSampleTries; t++)
        {
            var c = Uniform(rng);
            if (InBand(c)) return c;
        }
        var (mn, mx) = Table!.Range();
        throw new TailorException($"{Space.Name}: none of {MaxSampleTries:N0} random architectures has a table latency in [{Lo:F3}, {Hi:F3}] ms " +
                                  $"(target {TargetMs:F3} ms +-{100 * Band:G3}%; reachable range {mn:F3} .. {mx:F3} ms); widen --band or move the target toward the middle of the range");
    }

    /// <summary>All architectures one layer change away that lie in the band, in layer then choice order.</summary>
    public IReadOnlyList<int[]> Neighbors(int[] a)
    {
        var list = new List<int[]>();
        for (int l = 0; l < a.Length; l++)
            for (int c = 0; c < Space.Choices(l).Count; c++)
                if (c != a[l])
                {
                    var n = (int[])a.Clone();
                    n[l] = c;
                    if (InBand(n)) list.Add(n);
                }
        return list;
    }

    /// <summary>A random in-band neighbour; when no single change stays in the band, a fresh in-band sample.</summary>
    public int[] Mutate(int[] a, Rng rng)
    {
        var n = Neighbors(a);
        return n.Count > 0 ? n[rng.Next(n.Count)] : Sample(rng);
    }

    /// <summary>Uniform crossover, redrawn until the child lies in the band (100 tries, then the first parent).</summary>
    public int[] Crossover(int[] a, int[] b, Rng rng)
    {
        for (int t = 0; t < 100; t++)
        {
            var c = a.Select((x, i) => rng.Next(2) == 0 ? x : b[i]).ToArray();
            if (InBand(c)) return c;
        }
        return (int[])a.Clone();
    }

    /// <summary>One-hot per layer (layers have different numbers of candidates: the first of a stage has no skip).</summary>
    public void Encode(int[] a, Span<float> features)
    {
        features.Clear();
        for (int l = 0; l < a.Length; l++) features[_offsets[l] + a[l]] = 1;
    }

    public string Key(int[] a) => string.Join('-', a);

    /// <summary>Inverse of <see cref="Key"/>: choice indices joined by '-'. Does not check the band (a key names an architecture).</summary>
    public int[] Parse(string key)
    {
        var p = key.Split('-');
        if (p.Length != Space.LayerCount) throw new TailorException($"{Space.Name}: key '{key}' has {p.Length} layer choices, expected {Space.LayerCount}");
        var c = new int[p.Length];
        for (int l = 0; l < p.Length; l++)
        {
            int n = Space.Choices(l).Count;
            if (!int.TryParse(p[l], NumberStyles.None, CultureInfo.InvariantCulture, out c[l]) || c[l] >= n)
                throw new TailorException($"{Space.Name}: key '{key}': layer {l}: '{p[l]}' is not a choice index 0..{n - 1}");
        }
        return c;
    }

    public string[] Names(IReadOnlyList<int> a) => a.Select((c, l) => Space.Choices(l)[c].Name).ToArray();
}
