using Tailor.Search;
using Tailor.Util;

namespace Tailor.Tests.Search;

public class ParetoTests
{
    [Fact]
    public void HypervolumeOfAStaircase()
    {
        double[][] pts = [[1, 3], [2, 2], [3, 1]];
        Assert.Equal(6.0, Pareto.Hypervolume2D(pts, 4, 4), 12);
        // a dominated point, a duplicate and a point beyond the reference change nothing
        double[][] more = [.. pts, [3, 3], [2, 2], [5, 0], [0, 5]];
        Assert.Equal(6.0, Pareto.Hypervolume2D(more, 4, 4), 12);
        Assert.Equal(0.0, Pareto.Hypervolume2D([], 4, 4));
        Assert.Equal(9.0, Pareto.Hypervolume2D([[1, 1]], 4, 4), 12);
    }

    [Fact]
    public void HypervolumeMatchesAGridCount()
    {
        var rng = new Rng(5);
        for (int t = 0; t < 20; t++)
        {
            // integer points: the dominated area is exactly the number of unit cells dominated
            var pts = Enumerable.Range(0, 1 + rng.Next(12)).Select(_ => new double[] { rng.Next(20), rng.Next(20) }).ToList();
            int cells = 0;
            for (int x = 0; x < 20; x++)
                for (int y = 0; y < 20; y++)
                    if (pts.Any(p => p[0] <= x && p[1] <= y)) cells++;
            Assert.Equal(cells, Pareto.Hypervolume2D(pts, 20, 20), 9);
        }
    }

    [Fact]
    public void NonDominatedSortAndCrowding()
    {
        double[][] pts = [[1, 5], [2, 2], [5, 1], [3, 3], [4, 4], [6, 6]];
        var (fronts, rank) = Pareto.NonDominatedSort(pts);
        Assert.Equal([0, 1, 2], fronts[0]);
        Assert.Equal([3], fronts[1]);
        Assert.Equal([4], fronts[2]);
        Assert.Equal([5], fronts[3]);
        Assert.Equal([0, 0, 0, 1, 2, 3], rank);
        var cd = Pareto.CrowdingDistance(pts, fronts[0]);
        Assert.True(double.IsPositiveInfinity(cd[0]) && double.IsPositiveInfinity(cd[2]));
        Assert.Equal((5.0 - 1) / 4 + (5.0 - 1) / 4, cd[1], 12);
        Assert.Equal([0, 1, 2], Pareto.Front(pts));
    }

    [Fact]
    public void ConstrainedDominationPutsFeasibleFirst()
    {
        double[][] pts = [[0, 0], [5, 5], [9, 9]];
        double[] viol = [2.0, 0, 1.0];
        var (fronts, _) = Pareto.NonDominatedSort(pts, viol);
        Assert.Equal([1], fronts[0]);   // the only feasible point, though dominated
        Assert.Equal([2], fronts[1]);   // smaller violation
        Assert.Equal([0], fronts[2]);
        Assert.True(Pareto.ConstrainedDominates(pts[1], 0, pts[0], 2));
        Assert.False(Pareto.Dominates([1, 1], [1, 1]));
    }
}

public class MlpTests
{
    [Fact]
    public void FitsAnAdditiveFunctionOfAOneHotCode()
    {
        var space = new Tailor.Benchmarks.Nb201Space();
        var rng = new Rng(1);
        var archs = Enumerable.Range(0, 200).Select(_ => space.Sample(rng)).ToList();
        float[] Enc(Tailor.Benchmarks.Nb201Arch a) { var f = new float[space.FeatureCount]; space.Encode(a, f); return f; }
        double Target(Tailor.Benchmarks.Nb201Arch a) => Enumerable.Range(0, 6).Sum(e => a.Op(e) * (e + 1.0));
        var mlp = new Mlp(space.FeatureCount, [32, 32], 7);
        mlp.Fit(archs.Take(150).Select(Enc).ToList(), archs.Take(150).Select(Target).ToList(), epochs: 300);
        var test = archs.Skip(150).ToList();
        var pred = mlp.Predict(test.Select(Enc).ToList());
        double err = test.Select((a, i) => Math.Abs(pred[i] - Target(a))).Average();
        Assert.True(err < 3.0, $"mean abs error {err} (targets span 0..84)");
        // deterministic for a seed
        var again = new Mlp(space.FeatureCount, [32, 32], 7);
        again.Fit(archs.Take(150).Select(Enc).ToList(), archs.Take(150).Select(Target).ToList(), epochs: 300);
        Assert.Equal(pred, again.Predict(test.Select(Enc).ToList()));
    }
}
