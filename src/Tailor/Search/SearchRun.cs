using System.Text.Json;
using System.Text.Json.Nodes;
using Tailor.Util;

namespace Tailor.Search;

/// <summary>
/// Drives one strategy against one evaluator under a budget: ask, evaluate (each architecture at
/// most once: repeats come back from the cache and cost nothing), tell. Saves and loads its whole
/// state (history with metrics, strategy state) as JSON, so a run can stop anywhere and resume
/// with identical results, without re-evaluating anything.
/// </summary>
public sealed class SearchRun<TArch> where TArch : notnull
{
    public const int StateVersion = 1;

    public SearchRun(ISearchSpace<TArch> space, IEvaluator<TArch> evaluator, SearchProblem problem,
        ISearchStrategy<TArch> strategy, Budget budget)
    {
        budget.Validate(space.Size);
        foreach (var name in problem.Objectives.Select(o => o.Metric).Concat(problem.Constraints.Select(c => c.Metric)))
            if (!evaluator.MetricNames.Contains(name))
                throw new TailorException($"search problem: the evaluator does not measure '{name}' (it measures {string.Join(", ", evaluator.MetricNames)})");
        Evaluator = evaluator; Strategy = strategy;
        Context = new SearchContext<TArch>(space, problem, budget);
    }

    public SearchContext<TArch> Context { get; }
    public IEvaluator<TArch> Evaluator { get; }
    public ISearchStrategy<TArch> Strategy { get; }
    public bool Done => Context.Exhausted || _stalled >= 100;
    int _stalled;

    /// <summary>One ask/evaluate/tell round. Returns false when the budget is spent or the strategy proposes nothing new.</summary>
    public bool Step()
    {
        if (Done) return false;
        var asked = Strategy.Ask(Context, Context.RemainingQueries);
        if (asked.Count == 0) { _stalled = int.MaxValue / 2; return false; }
        var results = new List<Evaluated<TArch>>(asked.Count);
        int added = 0;
        foreach (var a in asked)
        {
            string key = Context.Space.Key(a);
            var cached = Context.Find(key);
            if (cached != null) { results.Add(cached); continue; }
            if (Context.Exhausted) break;
            results.Add(Context.Add(a, key, Evaluator.Evaluate(a)));
            added++;
        }
        Strategy.Tell(Context, results);
        _stalled = added == 0 ? _stalled + 1 : 0;
        return !Done;
    }

    /// <summary>Runs until done, or until <paramref name="stopAfterQueries"/> queries (for tests of resuming), calling <paramref name="onStep"/> after each round.</summary>
    public void Run(int? stopAfterQueries = null, Action<SearchRun<TArch>>? onStep = null)
    {
        while (!Done && (stopAfterQueries == null || Context.Queries < stopAfterQueries))
        {
            Step();
            onStep?.Invoke(this);
        }
    }

    // ---- state ----

    public static JsonNode? Num(double v) => double.IsNaN(v) ? null : JsonValue.Create(v);
    public static double Num(JsonNode? n) => n == null ? double.NaN : n.GetValue<double>();

    public static JsonObject MetricsToJson(Metrics m)
    {
        var o = new JsonObject { ["valid"] = Num(m.Valid), ["test"] = Num(m.Test), ["latency"] = Num(m.Latency), ["cost"] = m.Cost };
        if (m.Extra is { Count: > 0 })
        {
            var x = new JsonObject();
            foreach (var (k, v) in m.Extra.OrderBy(p => p.Key, StringComparer.Ordinal)) x[k] = Num(v);
            o["extra"] = x;
        }
        return o;
    }

    public static Metrics MetricsFromJson(JsonObject o) => new()
    {
        Valid = Num(o["valid"]), Test = Num(o["test"]), Latency = Num(o["latency"]), Cost = Num(o["cost"]) is var c && double.IsNaN(c) ? 0 : c,
        Extra = o["extra"] is JsonObject x ? x.ToDictionary(p => p.Key, p => Num(p.Value)) : null,
    };

    public JsonObject Save()
    {
        var hist = new JsonArray();
        foreach (var e in Context.History)
        {
            var m = MetricsToJson(e.Metrics);
            m.Insert(0, "key", e.Key);
            hist.Add(m);
        }
        return new JsonObject
        {
            ["version"] = StateVersion,
            ["space"] = Context.Space.Name,
            ["strategy"] = Strategy.Name,
            ["max_queries"] = Context.Budget.MaxQueries,
            ["max_cost"] = Context.Budget.MaxCost is { } mc ? mc : null,
            ["options"] = OptionsText(),
            ["stalled"] = _stalled,
            ["history"] = hist,
            ["strategy_state"] = Strategy.SaveState(),
        };
    }

    string OptionsText() => string.Join(", ", Strategy.Options.OrderBy(p => p.Key, StringComparer.Ordinal)
        .Select(p => $"{p.Key}={Convert.ToString(p.Value, System.Globalization.CultureInfo.InvariantCulture)}"));

    public void SaveTo(string path) => AtomicFile.WriteAllText(path, Save().ToJsonString(new JsonSerializerOptions { WriteIndented = false }));

    /// <summary>Loads a state saved by <see cref="Save"/> into this fresh run (same space, problem, budget and strategy kind).</summary>
    public void Load(JsonObject state, string source = "state")
    {
        if (Context.Queries > 0) throw new InvalidOperationException("Load needs a fresh run");
        try
        {
            if ((int?)state["version"] != StateVersion) throw new TailorException($"{source}: unsupported state version {state["version"]}");
            if ((string?)state["strategy"] != Strategy.Name) throw new TailorException($"{source}: state of strategy '{state["strategy"]}', not '{Strategy.Name}'");
            if ((string?)state["space"] != Context.Space.Name) throw new TailorException($"{source}: state of space '{state["space"]}', not '{Context.Space.Name}'");
            if ((int?)state["max_queries"] != Context.Budget.MaxQueries) throw new TailorException($"{source}: state has budget {state["max_queries"]}, not {Context.Budget.MaxQueries}");
            if (state["options"] is JsonNode so && (string?)so != OptionsText())
                throw new TailorException($"{source}: state of {Strategy.Name} with options {so}, not {OptionsText()}");
            foreach (var n in state["history"]!.AsArray())
            {
                var o = n!.AsObject();
                string key = (string)o["key"]!;
                Context.Add(Context.Space.Parse(key), key, MetricsFromJson(o));
            }
            _stalled = (int?)state["stalled"] ?? 0;
            Strategy.LoadState(Context, state["strategy_state"]!.AsObject());
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException or KeyNotFoundException or JsonException)
        {
            throw new TailorException($"{source}: malformed search state ({e.Message})");
        }
    }

    public void LoadFrom(string path)
    {
        if (!File.Exists(path)) throw new TailorException($"{path}: state file not found");
        JsonNode? n;
        try { n = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new TailorException($"{path}: not valid JSON ({ErrorText.Json(e)})"); }
        if (n is not JsonObject o) throw new TailorException($"{path}: not a search state object");
        Load(o, path);
    }
}
