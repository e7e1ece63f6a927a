using System.Text.Json.Nodes;
using Tailor.Util;

namespace Tailor.Search.Strategies;

/// <summary>
/// Regularized evolution (Real et al. 2019): a population of the last P evaluated architectures;
/// each step samples S members, mutates the best of them (the child is always new: mutated again
/// if it was seen) and the oldest member dies. The first P are random.
/// </summary>
public sealed class RegularizedEvolution<TArch> : ISearchStrategy<TArch> where TArch : notnull
{
    Rng _rng;
    readonly int _population, _sample;
    readonly Queue<int> _members = new(); // history indices, oldest first

    public const int DefaultPopulation = 20, DefaultSample = 10; // tuned by mean validation accuracy on seeds 1000-1039 (bench/README.md)

    public RegularizedEvolution(ulong seed, int population = DefaultPopulation, int sample = DefaultSample)
    {
        if (population < 2) throw new TailorException($"rea: --population must be >= 2, got {population}");
        if (sample < 1 || sample > population) throw new TailorException($"rea: --sample-size must be in 1..population ({population}), got {sample}");
        _rng = new Rng(seed); _population = population; _sample = sample;
    }

    public string Name => "rea";
    public IReadOnlyDictionary<string, object> Options => new Dictionary<string, object> { ["population"] = _population, ["sample_size"] = _sample };

    public IReadOnlyList<TArch> Ask(SearchContext<TArch> ctx, int max)
    {
        if (_members.Count < _population) return [ctx.SampleUnseen(_rng)];
        var pop = _members.ToArray();
        Evaluated<TArch>? best = null;
        for (int i = 0; i < _sample; i++)
        {
            var e = ctx.History[pop[_rng.Next(pop.Length)]];
            if (best == null || ctx.Problem.Compare(e.Metrics, best.Metrics) < 0) best = e;
        }
        return [ctx.MutateUnseen(best!.Arch, _rng)];
    }

    public void Tell(SearchContext<TArch> ctx, IReadOnlyList<Evaluated<TArch>> results)
    {
        foreach (var r in results)
        {
            _members.Enqueue(r.Index);
            if (_members.Count > _population) _members.Dequeue();
        }
    }

    public JsonObject SaveState() => new() { ["rng"] = _rng.State, ["members"] = new JsonArray(_members.Select(i => (JsonNode)i).ToArray()) };

    public void LoadState(SearchContext<TArch> ctx, JsonObject state)
    {
        _rng = Rng.FromState((string)state["rng"]!);
        _members.Clear();
        foreach (var n in state["members"]!.AsArray()) _members.Enqueue((int)n!);
    }
}
