namespace Tailor.Search;

/// <summary>Pareto tools on objective vectors to be minimised: dominance, non-dominated sorting, crowding distance, exact 2-D hypervolume.</summary>
public static class Pareto
{
    /// <summary>a dominates b: no worse in every objective and better in one.</summary>
    public static bool Dominates(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        bool better = false;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] > b[i]) return false;
            if (a[i] < b[i]) better = true;
        }
        return better;
    }

    /// <summary>Deb's constrained domination: a feasible point beats an infeasible one, of two infeasible the smaller violation wins, of two feasible Pareto dominance decides.</summary>
    public static bool ConstrainedDominates(ReadOnlySpan<double> a, double violA, ReadOnlySpan<double> b, double violB)
    {
        if (violA == 0 && violB > 0) return true;
        if (violA > 0 && violB == 0) return false;
        if (violA > 0 && violB > 0) return violA < violB;
        return Dominates(a, b);
    }

    /// <summary>+1 when p constrained-dominates q, -1 when q dominates p, 0 otherwise (one pass over the objectives).</summary>
    static int Relation(double[] p, double vp, double[] q, double vq)
    {
        if (vp != vq && (vp > 0 || vq > 0)) return vp < vq ? 1 : -1; // feasible beats infeasible; smaller violation wins
        bool pBetter = false, qBetter = false;
        for (int k = 0; k < p.Length; k++)
        {
            if (p[k] < q[k]) pBetter = true;
            else if (q[k] < p[k]) qBetter = true;
        }
        return pBetter == qBetter ? 0 : pBetter ? 1 : -1;
    }

    /// <summary>Fast non-dominated sort (Deb et al. 2002). Returns the fronts (indices, each front in ascending index order) and each point's rank (0 = first front).</summary>
    public static (List<List<int>> Fronts, int[] Rank) NonDominatedSort(IReadOnlyList<double[]> objs, IReadOnlyList<double>? violations = null)
    {
        int n = objs.Count;
        var dominated = new List<int>[n];
        var count = new int[n];
        var rank = new int[n];
        var viol = new double[n];
        for (int i = 0; i < n; i++) { dominated[i] = []; viol[i] = violations?[i] ?? 0; }
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++)
            {
                int r = Relation(objs[p], viol[p], objs[q], viol[q]);
                if (r > 0) { dominated[p].Add(q); count[q]++; }
                else if (r < 0) { dominated[q].Add(p); count[p]++; }
            }
        var fronts = new List<List<int>> { new() };
        for (int p = 0; p < n; p++) if (count[p] == 0) fronts[0].Add(p);
        int i0 = 0;
        while (fronts[i0].Count > 0)
        {
            var next = new List<int>();
            foreach (int p in fronts[i0])
                foreach (int q in dominated[p])
                    if (--count[q] == 0) { rank[q] = i0 + 1; next.Add(q); }
            next.Sort();
            i0++;
            fronts.Add(next);
        }
        fronts.RemoveAt(fronts.Count - 1);
        return (fronts, rank);
    }

    /// <summary>Crowding distance of each member of one front (boundary points get +infinity).</summary>
    public static double[] CrowdingDistance(IReadOnlyList<double[]> objs, IReadOnlyList<int> front)
    {
        int n = front.Count;
        var d = new double[n];
        if (n == 0) return d;
        int m = objs[front[0]].Length;
        var order = new int[n];
        for (int k = 0; k < m; k++)
        {
            for (int i = 0; i < n; i++) order[i] = i;
            int kk = k;
            // stable by value then by index, so ties never depend on the sort's internals
            Array.Sort(order, (a, b) => { int c = objs[front[a]][kk].CompareTo(objs[front[b]][kk]); return c != 0 ? c : a.CompareTo(b); });
            double lo = objs[front[order[0]]][k], hi = objs[front[order[n - 1]]][k];
            d[order[0]] = d[order[n - 1]] = double.PositiveInfinity;
            if (hi - lo <= 0) continue;
            for (int i = 1; i < n - 1; i++)
                d[order[i]] += (objs[front[order[i + 1]]][k] - objs[front[order[i - 1]]][k]) / (hi - lo);
        }
        return d;
    }

    /// <summary>Indices of the non-dominated points (duplicates: the first one kept), ascending.</summary>
    public static List<int> Front(IReadOnlyList<double[]> objs)
    {
        var idx = Enumerable.Range(0, objs.Count).ToList();
        // sort lexicographically; a sweep keeps points that improve the second objective (exact for 2-D)
        if (objs.Count > 0 && objs[0].Length == 2)
        {
            idx.Sort((a, b) =>
            {
                int c = objs[a][0].CompareTo(objs[b][0]);
                if (c != 0) return c;
                c = objs[a][1].CompareTo(objs[b][1]);
                return c != 0 ? c : a.CompareTo(b);
            });
            var keep = new List<int>();
            double best = double.PositiveInfinity;
            foreach (int i in idx)
                if (objs[i][1] < best) { keep.Add(i); best = objs[i][1]; }
            keep.Sort();
            return keep;
        }
        var res = new List<int>();
        for (int i = 0; i < objs.Count; i++)
        {
            bool dom = false;
            for (int j = 0; j < objs.Count && !dom; j++)
                if (j != i && (Dominates(objs[j], objs[i]) || (j < i && objs[j].AsSpan().SequenceEqual(objs[i])))) dom = true;
            if (!dom) res.Add(i);
        }
        return res;
    }

    /// <summary>
    /// Exact 2-D hypervolume (minimisation) of a point set with respect to a reference point: the
    /// area dominated by the set and bounded by the reference. Points not strictly better than the
    /// reference in both objectives contribute nothing.
    /// </summary>
    public static double Hypervolume2D(IEnumerable<double[]> points, double ref0, double ref1)
    {
        var pts = points.Where(p => p[0] < ref0 && p[1] < ref1).OrderBy(p => p[0]).ThenBy(p => p[1]).ToList();
        double hv = 0, prev1 = ref1;
        foreach (var p in pts)
        {
            if (p[1] >= prev1) continue;
            hv += (ref0 - p[0]) * (prev1 - p[1]);
            prev1 = p[1];
        }
        return hv;
    }
}
