using System.Text.Json.Nodes;
using Tailor.Benchmarks;

namespace Tailor.Search.Differentiable;

/// <summary>
/// A differentiable cell search as a strategy of the search framework (ask/tell over the NAS-Bench-201
/// space): each Ask advances the supernet search by one unit (an epoch, or a DARTS-PT projection
/// round) and proposes the cell it derives; Tell receives the table's metrics, which the search never
/// reads (they are the protocol's record). The strategy is done when the search is. Its tensors live in
/// the search's own checkpoint folder (pass one to resume): SaveState records that folder and the
/// progress, LoadState checks that the search was resumed from it.
/// </summary>
public sealed class CellSearchStrategy : ISearchStrategy<Nb201Arch>, IDisposable
{
    readonly CellSearch _search;
    readonly string? _dir;
    bool _done;

    public CellSearchStrategy(CellSearch search, string? checkpointDir = null)
    {
        if (search.Options.Space != "nb201" || search.Options.Method == "hdas")
            throw new TailorException("a cell search runs as a NAS-Bench-201 strategy only in the nb201 space with one cell per network (not hdas)");
        _search = search; _dir = checkpointDir;
    }

    public CellSearch Search => _search;
    public string Name => "cell-" + _search.Options.Method;

    public IReadOnlyDictionary<string, object> Options => new Dictionary<string, object>
    {
        ["method"] = _search.Options.Method, ["epochs"] = _search.Options.Epochs, ["channels"] = _search.Options.C,
        ["cells_per_stage"] = _search.Options.N, ["seed"] = _search.Options.Seed,
    };

    public IReadOnlyList<Nb201Arch> Ask(SearchContext<Nb201Arch> ctx, int max)
    {
        if (_done || max < 1) return Array.Empty<Nb201Arch>();
        if (!_search.Advance()) { _done = true; return Array.Empty<Nb201Arch>(); }
        return new[] { _search.CurrentCells().Nb201![0].Arch };
    }

    public void Tell(SearchContext<Nb201Arch> ctx, IReadOnlyList<Evaluated<Nb201Arch>> results) { }

    public JsonObject SaveState() => new()
    {
        ["checkpoint"] = _dir, ["epochs_done"] = _search.State.EpochsDone, ["pt_done"] = _search.State.PtDone, ["done"] = _done,
    };

    public void LoadState(SearchContext<Nb201Arch> ctx, JsonObject state)
    {
        if ((string?)state["checkpoint"] != _dir || (int?)state["epochs_done"] != _search.State.EpochsDone)
            throw new TailorException($"{Name}: the state belongs to the checkpoint in '{state["checkpoint"]}' at epoch {state["epochs_done"]}; resume the cell search from that folder");
        _done = (bool?)state["done"] ?? false;
    }

    public void Dispose() => _search.Dispose();
}
