using System.Text.Json.Nodes;
using Tailor.Util;

namespace Tailor.Search.Strategies;

/// <summary>
/// Local search (White et al. 2021): start from the best of a few random architectures, evaluate
/// its neighbours in random order and move to the first one that improves (or, with
/// bestImprovement, to the best after the whole neighbourhood); at a local optimum restart from a
/// new random architecture.
/// </summary>
public sealed class LocalSearch<TArch> : ISearchStrategy<TArch> where TArch : notnull
{
    Rng _rng;
    readonly int _initial;
    readonly bool _bestImprovement;
    int _current = -1;          // history index of the current point
    int _initLeft;              // random samples still to draw before the (re)start
    int _bestNeighbor = -1;     // best improving neighbour seen in this neighbourhood (best-improvement)
    List<string> _queue = [];   // neighbour keys still to look at

    public const int DefaultInitial = 10;

    public LocalSearch(ulong seed, int initial = DefaultInitial, bool bestImprovement = false)
    {
        if (initial < 1) throw new TailorException($"local: --initial must be >= 1, got {initial}");
        _rng = new Rng(seed); _initial = initial; _bestImprovement = bestImprovement; _initLeft = initial;
    }

    public string Name => "local";
    public IReadOnlyDictionary<string, object> Options => new Dictionary<string, object> { ["initial"] = _initial, ["best_improvement"] = _bestImprovement };

    bool Better(SearchContext<TArch> ctx, int a, int b) => ctx.Problem.Compare(ctx.History[a].Metrics, ctx.History[b].Metrics) < 0;

    void Move(SearchContext<TArch> ctx, int to)
    {
        _current = to;
        _bestNeighbor = -1;
        _queue = ctx.Space.Neighbors(ctx.History[to].Arch).Select(ctx.Space.Key).ToList();
        _rng.Shuffle(_queue);
    }

    public IReadOnlyList<TArch> Ask(SearchContext<TArch> ctx, int max)
    {
        for (int guard = 0; guard < 100000; guard++)
        {
            if (_initLeft > 0) return [ctx.SampleUnseen(_rng)];
            if (_queue.Count == 0)
            {
                // neighbourhood exhausted: take the best improvement, or restart
                if (_bestNeighbor >= 0) { Move(ctx, _bestNeighbor); continue; }
                _initLeft = _initial; _current = -1;
                continue;
            }
            string k = _queue[^1];
            _queue.RemoveAt(_queue.Count - 1);
            var seen = ctx.Find(k);
            if (seen == null) return [ctx.Space.Parse(k)];
            Consider(ctx, seen.Index);
        }
        return [ctx.SampleUnseen(_rng)];
    }

    void Consider(SearchContext<TArch> ctx, int idx)
    {
        if (_current < 0) return;
        if (!Better(ctx, idx, _current)) return;
        if (_bestImprovement) { if (_bestNeighbor < 0 || Better(ctx, idx, _bestNeighbor)) _bestNeighbor = idx; }
        else Move(ctx, idx);
    }

    public void Tell(SearchContext<TArch> ctx, IReadOnlyList<Evaluated<TArch>> results)
    {
        foreach (var r in results)
        {
            if (_initLeft > 0)
            {
                _initLeft--;
                if (_current < 0 || Better(ctx, r.Index, _current)) _current = r.Index;
                if (_initLeft == 0) Move(ctx, _current);
            }
            else Consider(ctx, r.Index);
        }
    }

    public JsonObject SaveState() => new()
    {
        ["rng"] = _rng.State, ["current"] = _current, ["init_left"] = _initLeft, ["best_neighbor"] = _bestNeighbor,
        ["queue"] = new JsonArray(_queue.Select(k => (JsonNode)k).ToArray()),
    };

    public void LoadState(SearchContext<TArch> ctx, JsonObject s)
    {
        _rng = Rng.FromState((string)s["rng"]!);
        _current = (int)s["current"]!; _initLeft = (int)s["init_left"]!; _bestNeighbor = (int)s["best_neighbor"]!;
        _queue = s["queue"]!.AsArray().Select(n => (string)n!).ToList();
    }
}
