using System.Text.Json.Nodes;
using Tailor.Util;

namespace Tailor.Search.Strategies;

/// <summary>Uniform random sampling without repeats.</summary>
public sealed class RandomSearch<TArch> : ISearchStrategy<TArch> where TArch : notnull
{
    Rng _rng;
    readonly int _batch;

    public RandomSearch(ulong seed, int batch = 1)
    {
        if (batch < 1) throw new TailorException($"random: --batch must be >= 1, got {batch}");
        _rng = new Rng(seed); _batch = batch;
    }

    public string Name => "random";
    public IReadOnlyDictionary<string, object> Options => new Dictionary<string, object> { ["batch"] = _batch };

    public IReadOnlyList<TArch> Ask(SearchContext<TArch> ctx, int max)
    {
        int n = Math.Min(_batch, max);
        var keys = new HashSet<string>();
        var res = new List<TArch>(n);
        for (int i = 0; i < n; i++)
        {
            var a = ctx.SampleUnseen(_rng, keys);
            keys.Add(ctx.Space.Key(a));
            res.Add(a);
        }
        return res;
    }

    public void Tell(SearchContext<TArch> ctx, IReadOnlyList<Evaluated<TArch>> results) { }

    public JsonObject SaveState() => new() { ["rng"] = _rng.State };
    public void LoadState(SearchContext<TArch> ctx, JsonObject state) => _rng = Rng.FromState((string)state["rng"]!);
}
