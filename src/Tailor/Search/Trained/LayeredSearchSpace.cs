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
/// over the architectures in the band.
/// </summary>
public sealed class LayeredSearchSpace : ChoiceVectorSpace
{
    public LayeredSpace Space { get; }
    public LayerLatencies? Table { get; }
    public double? TargetMs { get; }
    public double Band { get; }
    /// <summary>The latency band [Lo, Hi] in ms (infinite without a table).</summary>
    public double Lo { get; } = double.NegativeInfinity;
    public double Hi { get; } = double.PositiveInfinity;

    public LayeredSearchSpace(LayeredSpace space, LayerLatencies? table = null, double? targetMs = null, double band = 0.05)
        : base(Enumerable.Range(0, space.LayerCount).Select(l => space.Choices(l).Count).ToArray())
    {
        Space = space; Table = table; TargetMs = targetMs; Band = band;
        if (targetMs != null && table == null) throw new TailorException("latency band: a target needs a latency table");
        if (targetMs is double t)
        {
            if (!(band >= 0 && band < 1)) throw new TailorException($"--band: expected a fraction in [0, 1) (got {band.ToString(CultureInfo.InvariantCulture)})");
            var (mn, mx) = table!.Range();
            if (!(t >= mn && t <= mx))
                throw new TailorException($"latency target {t:G4} ms is outside the range the table can reach on this space: {mn:F3} .. {mx:F3} ms");
            Lo = t * (1 - band); Hi = t * (1 + band);
        }
    }

    public override string Name => TargetMs is double t
        ? $"{Space.Name}@{t.ToString("G6", CultureInfo.InvariantCulture)}ms+-{Band.ToString("G4", CultureInfo.InvariantCulture)}"
        : Space.Name;
    protected override string PositionName => "layer";
    // always: mutation picks uniformly among all neighbours (layers have different numbers of candidates)
    protected override bool Restricted => true;

    /// <summary>Calibrated LUT latency of <paramref name="a"/> (NaN without a table).</summary>
    public double Latency(IReadOnlyList<int> a) => Table?.Predict(a) ?? double.NaN;

    public bool InBand(IReadOnlyList<int> a)
    {
        if (TargetMs == null) return true;
        double ms = Latency(a);
        return ms >= Lo && ms <= Hi;
    }

    public override bool Accept(IReadOnlyList<int> a) => InBand(a);

    protected override TailorException NothingAccepted()
    {
        var (mn, mx) = Table!.Range();
        return new TailorException($"{Space.Name}: none of {MaxSampleTries:N0} random architectures has a table latency in [{Lo:F3}, {Hi:F3}] ms " +
                                   $"(target {TargetMs:F3} ms +-{100 * Band:G3}%; reachable range {mn:F3} .. {mx:F3} ms); widen --band or move the target toward the middle of the range");
    }

    public string[] Names(IReadOnlyList<int> a) => a.Select((c, l) => Space.Choices(l)[c].Name).ToArray();
}
