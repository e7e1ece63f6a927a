namespace Tailor.Search.SinglePath;

/// <summary>
/// Finds lambda automatically for a latency target T (the idea of Single-Path Mobile AutoML; our design):
/// dual ascent on the constraint ln R &lt;= ln T. After every phase-2 step,
///   lambda &lt;- clip(lambda + eta * (ln R_hard - ln T), 0, lambda_max),
/// where R_hard is the table latency of the network the supernet decodes to right now. Too slow:
/// lambda grows and the latency term pushes thresholds up (ops shrink); too fast: lambda decays and
/// the accuracy term lets ops grow back. The loss stays the paper's (lambda * 1000 * ln R).
/// </summary>
public sealed class LatencyController
{
    public double TargetMs { get; }
    public double Eta { get; }
    public double LambdaMax { get; }
    public double Lambda { get; set; }

    public LatencyController(double targetMs, double eta = 0.01, double lambdaInit = 0.0, double lambdaMax = 1.0)
    {
        if (!(targetMs > 0)) throw new TailorException($"latency target must be > 0 ms (got {targetMs})");
        TargetMs = targetMs; Eta = eta; Lambda = lambdaInit; LambdaMax = lambdaMax;
    }

    public double Update(double hardMs)
    {
        Lambda = Math.Clamp(Lambda + Eta * (Math.Log(hardMs) - Math.Log(TargetMs)), 0, LambdaMax);
        return Lambda;
    }
}

/// <summary>
/// Final projection onto the latency band: if the decoded network's table latency is outside
/// T*(1 +- tol), flip single decisions in order of the supernet's confidence (smallest |norm - threshold|
/// first) in the direction that closes the gap, until it is inside (or nothing helps). Every flip is
/// reported: with a well-tuned controller there are none.
/// </summary>
public static class LatencyProjection
{
    public sealed record Flip(int Layer, string From, string To, double Margin, double Ms);

    /// <summary>
    /// <paramref name="neighbours"/>(layer, current) gives the one-decision changes of a layer with the
    /// margin of the decision that changes (how strongly the supernet holds it).
    /// </summary>
    public static (int[] Choice, List<Flip> Flips) Project(int[] choice, LayerLatencies table, double targetMs, double tol,
        Func<int, int, IEnumerable<(int To, double Margin)>> neighbours, int maxFlips = 1000)
    {
        var c = (int[])choice.Clone();
        var flips = new List<Flip>();
        double lo = targetMs * (1 - tol), hi = targetMs * (1 + tol);
        for (int it = 0; it < maxFlips; it++)
        {
            double r = table.Predict(c);
            if (r >= lo && r <= hi) break;
            bool tooSlow = r > hi;
            (int l, int to, double margin, double ms, double key)? best = null;
            for (int l = 0; l < c.Length; l++)
                foreach (var (to, margin) in neighbours(l, c[l]))
                {
                    double delta = table.Entries[l][to] - table.Entries[l][c[l]];
                    if (tooSlow ? delta >= 0 : delta <= 0) continue;
                    double after = r + delta;
                    // prefer flips that land inside the band, then ones that do not overshoot it, then the least confident decision
                    bool lands = after >= lo && after <= hi;
                    bool overshoots = tooSlow ? after < lo : after > hi;
                    double key = (lands ? 0 : overshoots ? 2 : 1) * 1e6 + Math.Abs(margin);
                    if (best is null || key < best.Value.key) best = (l, to, margin, after, key);
                }
            if (best is null) break;
            var b = best.Value;
            flips.Add(new Flip(b.l, table.Space.Choices(b.l)[c[b.l]].Name, table.Space.Choices(b.l)[b.to].Name, b.margin, b.ms));
            c[b.l] = b.to;
        }
        return (c, flips);
    }
}
