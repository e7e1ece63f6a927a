namespace Tailor.Arch;

/// <summary>
/// The width multiplier of MobileNet-style networks as an IR transform: every stem and body block's
/// output channels become <see cref="Spaces.Round8"/>(c * w); head convs keep at least their width,
/// max(c, Round8(c * w)), as torchvision's MobileNetV2 keeps its 1,280-channel head for w &lt; 1.
/// SE widths follow from the scaled channels; the classifier and input are unchanged.
/// </summary>
public static class WidthScaling
{
    public static Architecture Scale(Architecture a, double width)
    {
        if (!(width > 0) || double.IsInfinity(width))
            throw new TailorException($"--width {width}: expected a positive multiplier (e.g. 0.5, 1.0, 1.4)");
        if (Math.Abs(width - 1.0) < 1e-12) return a;
        Block Body(Block b) => b with { Out = Spaces.Round8(b.Out * width), In = null };
        Block HeadConv(Block b) => b with { Out = Math.Max(b.Out, Spaces.Round8(b.Out * width)), In = null };
        var scaled = a with
        {
            Name = $"{a.Name}_w{width.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}",
            Stem = a.Stem.Select(Body).ToList(),
            Blocks = a.Blocks.Select(Body).ToList(),
            Head = a.Head with { Convs = a.Head.Convs.Select(HeadConv).ToList() },
        };
        ArchAnalysis.Analyze(scaled, $"{a.Name} at width {width}");
        return scaled;
    }
}
