using System.Text.Json.Nodes;
using Tailor.Util;

namespace Tailor.Search.Strategies;

/// <summary>Options of WeakNAS (methods.md §3). Defaults: the NAS-Bench-201 setting of the paper.</summary>
public sealed record WeakNasOptions
{
    /// <summary>Random architectures evaluated before the first predictor.</summary>
    public int Initial { get; init; } = 10;
    /// <summary>Architectures evaluated per iteration.</summary>
    public int Batch { get; init; } = 10;
    /// <summary>They are drawn uniformly from the predictor's top-N unevaluated architectures.</summary>
    public int TopN { get; init; } = 100;
    /// <summary>Candidates ranked per iteration when the space cannot be enumerated (random new architectures).</summary>
    public int Pool { get; init; } = 10_000;
    public int[] Hidden { get; init; } = [32, 32];
    public int Epochs { get; init; } = 200;
    public double LearningRate { get; init; } = 0.01;
    public double WeightDecay { get; init; } = 1e-4;
    /// <summary>Predictor target: "rank" (the score's quantile among the evaluated, in [0,1]: the fit spends itself on the order, not on separating broken cells) or "raw".</summary>
    public string Target { get; init; } = "rank";
    /// <summary>Weak predictors averaged per iteration (1 = the paper's single MLP).</summary>
    public int Ensemble { get; init; } = 1;

    public void Validate()
    {
        if (Initial < 2) throw new TailorException($"weaknas: --initial must be >= 2, got {Initial}");
        if (Batch < 1) throw new TailorException($"weaknas: --batch must be >= 1, got {Batch}");
        if (TopN < Batch) throw new TailorException($"weaknas: --top-n ({TopN}) must be >= --batch ({Batch})");
        if (Pool < TopN) throw new TailorException($"weaknas: --pool ({Pool}) must be >= --top-n ({TopN})");
        if (Hidden.Length == 0 || Hidden.Any(h => h < 1)) throw new TailorException("weaknas: --hidden must list positive layer widths");
        if (Epochs < 1) throw new TailorException($"weaknas: --epochs must be >= 1, got {Epochs}");
        if (Target is not ("rank" or "raw")) throw new TailorException($"weaknas: --target must be rank or raw, got '{Target}'");
        if (Ensemble < 1) throw new TailorException($"weaknas: --ensemble must be >= 1, got {Ensemble}");
        OptionCheck.Positive("weaknas: --lr", LearningRate);
        OptionCheck.NonNegative("weaknas: weight decay", WeightDecay);
    }
}

/// <summary>
/// WeakNAS (Wu et al. 2021): evaluate a few random architectures, fit a weak MLP predictor of the
/// primary objective on everything evaluated, rank the space (or a random pool of it), evaluate a
/// batch drawn from the predicted top-N, refit, repeat. The predictor is refit from the history
/// with a seed from the strategy's rng, so the state is the rng alone.
/// </summary>
public sealed class WeakNas<TArch> : ISearchStrategy<TArch> where TArch : notnull
{
    Rng _rng;
    readonly WeakNasOptions _o;
    object? _cachedSpace;
    float[][]? _allFeatures;

    public WeakNas(ulong seed, WeakNasOptions? options = null)
    {
        _o = options ?? new WeakNasOptions();
        _o.Validate();
        _rng = new Rng(seed);
    }

    public string Name => "weaknas";
    public WeakNasOptions Settings => _o;
    public IReadOnlyDictionary<string, object> Options => new Dictionary<string, object>
    {
        ["initial"] = _o.Initial, ["batch"] = _o.Batch, ["top_n"] = _o.TopN, ["pool"] = _o.Pool,
        ["hidden"] = string.Join(",", _o.Hidden), ["epochs"] = _o.Epochs, ["lr"] = _o.LearningRate, ["weight_decay"] = _o.WeightDecay, ["target"] = _o.Target, ["ensemble"] = _o.Ensemble,
    };

    float[] Encode(ISearchSpace<TArch> space, TArch a)
    {
        var f = new float[space.FeatureCount];
        space.Encode(a, f);
        return f;
    }

    public IReadOnlyList<TArch> Ask(SearchContext<TArch> ctx, int max)
    {
        var space = ctx.Space;
        if (ctx.Queries < _o.Initial)
        {
            int n = Math.Min(_o.Initial - ctx.Queries, max);
            var keys = new HashSet<string>();
            var init = new List<TArch>(n);
            for (int i = 0; i < n; i++) { var a = ctx.SampleUnseen(_rng, keys); keys.Add(space.Key(a)); init.Add(a); }
            return init;
        }
        var model = Fit(ctx);

        // candidates: the whole space when it can be enumerated, else a random pool of new architectures
        List<(TArch Arch, float[] X)> cand = [];
        if (space.All is { } all)
        {
            if (!ReferenceEquals(_cachedSpace, space)) { _allFeatures = all.Select(a => Encode(space, a)).ToArray(); _cachedSpace = space; }
            for (int i = 0; i < all.Count; i++)
                if (!ctx.IsEvaluated(all[i])) cand.Add((all[i], _allFeatures![i]));
        }
        else
        {
            var keys = new HashSet<string>();
            for (int i = 0; i < _o.Pool; i++)
            {
                var a = ctx.SampleUnseen(_rng, keys);
                if (keys.Add(space.Key(a))) cand.Add((a, Encode(space, a)));
            }
        }
        if (cand.Count == 0) return [];
        var pred = model(cand.Select(c => c.X).ToList());
        var order = Enumerable.Range(0, cand.Count).ToArray();
        // descending prediction, ties by candidate order (deterministic)
        Array.Sort(order, (a, b) => { int c = pred[b].CompareTo(pred[a]); return c != 0 ? c : a.CompareTo(b); });
        int top = Math.Min(_o.TopN, order.Length);
        int take = Math.Min(Math.Min(_o.Batch, max), top);
        var chosen = new List<TArch>(take);
        for (int i = 0; i < take; i++)
        {
            int j = i + _rng.Next(top - i);
            (order[i], order[j]) = (order[j], order[i]);
            chosen.Add(cand[order[i]].Arch);
        }
        return chosen;
    }

    /// <summary>Fits the weak predictor(s) on the whole history (public for the speed bench).</summary>
    public Func<IReadOnlyList<float[]>, double[]> Fit(SearchContext<TArch> ctx)
    {
        var x = ctx.History.Select(e => Encode(ctx.Space, e.Arch)).ToList();
        var y = ctx.History.Select(e => ctx.Problem.Score(e.Metrics)).ToList();
        if (_o.Target == "rank")
        {
            // quantile of each score among the evaluated (ties share their mean rank)
            var order = Enumerable.Range(0, y.Count).OrderBy(i => y[i]).ToArray();
            var q = new double[y.Count];
            for (int a = 0; a < order.Length;)
            {
                int b = a;
                while (b + 1 < order.Length && y[order[b + 1]] == y[order[a]]) b++;
                double r = (a + b) / 2.0 / Math.Max(1, y.Count - 1);
                for (int k = a; k <= b; k++) q[order[k]] = r;
                a = b + 1;
            }
            y = q.ToList();
        }
        var models = new Mlp[_o.Ensemble];
        for (int m = 0; m < models.Length; m++)
        {
            models[m] = new Mlp(ctx.Space.FeatureCount, _o.Hidden, _rng.NextSeed());
            models[m].Fit(x, y, _o.Epochs, _o.LearningRate, _o.WeightDecay);
        }
        return xs =>
        {
            var sum = new double[xs.Count];
            foreach (var m in models) { var p = m.Predict(xs); for (int i = 0; i < p.Length; i++) sum[i] += p[i]; }
            return sum;
        };
    }

    public void Tell(SearchContext<TArch> ctx, IReadOnlyList<Evaluated<TArch>> results) { }

    public JsonObject SaveState() => new() { ["rng"] = _rng.State };
    public void LoadState(SearchContext<TArch> ctx, JsonObject state) => _rng = Rng.FromState((string)state["rng"]!);
}
