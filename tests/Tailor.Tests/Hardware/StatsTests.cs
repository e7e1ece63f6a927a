using Tailor.Util;

namespace Tailor.Tests.Hardware;

public class StatsTests
{
    static double TauBBrute(double[] x, double[] y)
    {
        long c = 0, d = 0, tx = 0, ty = 0;
        for (int i = 0; i < x.Length; i++)
            for (int j = i + 1; j < x.Length; j++)
            {
                double a = Math.Sign(x[i] - x[j]), b = Math.Sign(y[i] - y[j]);
                if (a == 0 && b == 0) continue;
                if (a == 0) { tx++; continue; }
                if (b == 0) { ty++; continue; }
                if (a == b) c++; else d++;
            }
        return (c - d) / Math.Sqrt((double)(c + d + tx) * (c + d + ty));
    }

    [Fact]
    public void KendallTauBMatchesTheDefinitionWithTies()
    {
        var rng = new Random(4);
        for (int t = 0; t < 30; t++)
        {
            int n = rng.Next(2, 60);
            var x = Enumerable.Range(0, n).Select(_ => (double)rng.Next(8)).ToArray();
            var y = Enumerable.Range(0, n).Select(_ => (double)rng.Next(8)).ToArray();
            double want = TauBBrute(x, y);
            if (double.IsNaN(want)) continue;
            Assert.Equal(want, Stats.KendallTauB(x, y), 10);
        }
        Assert.Equal(1.0, Stats.KendallTauB(new double[] { 1, 2, 3 }, new double[] { 10, 20, 30 }), 12);
        Assert.Equal(-1.0, Stats.KendallTauB(new double[] { 1, 2, 3 }, new double[] { 3, 2, 1 }), 12);
        // tau-b of [1,2,2,3] vs [1,3,2,2]: 3 concordant, 1 discordant, one tie in each: 2 / sqrt(5 * 5)
        Assert.Equal(0.4, Stats.KendallTauB(new double[] { 1, 2, 2, 3 }, new double[] { 1, 3, 2, 2 }), 10);
    }

    [Fact]
    public void ErrorMetricsAndQuantiles()
    {
        double[] p = { 1.05, 2.5, 2.7 }, a = { 1, 2, 3 };
        Assert.Equal((0.05 + 0.25 + 0.1) / 3, Stats.Mape(p, a), 12);
        Assert.Equal(Math.Sqrt((0.0025 + 0.25 + 0.09) / 3), Stats.Rmse(p, a), 12);
        Assert.Equal(2.0 / 3, Stats.WithinK(p, a, 0.1), 12);
        Assert.Equal(2.5, Stats.Median(new double[] { 4, 1, 2, 3 }));
        Assert.Equal(1.5, Stats.Iqr(new double[] { 1, 2, 3, 4 }));
        Assert.Equal(1.4826 * 1 / 3, Stats.RobustCv(new double[] { 2, 3, 4 }), 12);
        var x = Stats.SolveSymmetric(new double[,] { { 4, 1 }, { 1, 3 } }, new double[] { 1, 2 });
        Assert.Equal(1.0 / 11, x[0], 12);
        Assert.Equal(7.0 / 11, x[1], 12);
    }
}
