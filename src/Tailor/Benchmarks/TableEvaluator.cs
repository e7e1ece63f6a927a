using Tailor.Search;
using Tailor.Util;

namespace Tailor.Benchmarks;

/// <summary>Which CSV columns feed which metric (null: not measured).</summary>
public sealed record TableColumns
{
    public required string Arch { get; init; }
    public string? Valid { get; init; }
    public string? Test { get; init; }
    public string? Latency { get; init; }
    public string? Cost { get; init; }
    /// <summary>Extra metrics: metric name -> column (e.g. "latency2" -> latency_ms_gtx1080ti_b1).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Answers queries from a benchmark table: one row per architecture, metrics read from the chosen
/// columns. Every architecture of the table is parsed up front, so a bad cell fails at load with
/// file, line and column.
/// </summary>
public sealed class TableEvaluator<TArch> : IEvaluator<TArch> where TArch : notnull
{
    readonly ISearchSpace<TArch> _space;
    readonly Dictionary<string, int> _row;
    readonly Metrics[] _metrics;
    readonly int[]? _officialIndex;

    public string Path { get; }
    public TableColumns Columns { get; }
    public IReadOnlyList<TArch> Archs { get; }
    public IReadOnlyList<Metrics> RowMetrics => _metrics;
    public IReadOnlyCollection<string> MetricNames { get; }

    public TableEvaluator(ISearchSpace<TArch> space, CsvTable table, TableColumns columns, Func<string, TArch>? parse = null)
    {
        _space = space; Path = table.Path; Columns = columns;
        parse ??= space.Parse;
        var archText = table.Text(columns.Arch);
        double[]? Col(string? c) => c == null ? null : table.Numeric(c);
        var valid = Col(columns.Valid); var test = Col(columns.Test); var lat = Col(columns.Latency); var cost = Col(columns.Cost);
        var extra = columns.Extra.ToDictionary(p => p.Key, p => table.Numeric(p.Value));
        if (table.HasColumn("index"))
        {
            try { _officialIndex = table.Numeric("index").Select(v => (int)v).ToArray(); } catch (TailorException) { _officialIndex = null; }
        }
        int n = table.Rows.Count;
        var archs = new TArch[n];
        _metrics = new Metrics[n];
        _row = new Dictionary<string, int>(n);
        for (int i = 0; i < n; i++)
        {
            try { archs[i] = parse(archText[i]); }
            catch (TailorException e) { throw new TailorException($"{Path}:{table.Lines[i]}: column '{columns.Arch}': {e.Message}"); }
            string key = space.Key(archs[i]);
            if (!_row.TryAdd(key, i))
                throw new TailorException($"{Path}:{table.Lines[i]}: duplicate architecture {key} (first on line {table.Lines[_row[key]]})");
            _metrics[i] = new Metrics
            {
                Valid = valid?[i] ?? double.NaN, Test = test?[i] ?? double.NaN, Latency = lat?[i] ?? double.NaN, Cost = cost?[i] ?? 0,
                Extra = extra.Count == 0 ? null : extra.ToDictionary(p => p.Key, p => p.Value[i]),
            };
        }
        Archs = archs;
        var names = new List<string>();
        if (valid != null) names.Add(Metrics.ValidName);
        if (test != null) names.Add(Metrics.TestName);
        if (lat != null) names.Add(Metrics.LatencyName);
        names.Add(Metrics.CostName);
        names.AddRange(extra.Keys);
        MetricNames = names;
    }

    public Metrics Evaluate(TArch arch)
    {
        string key = _space.Key(arch);
        if (!_row.TryGetValue(key, out int i)) throw new TailorException($"{Path}: architecture {key} is not in the table");
        return _metrics[i];
    }

    public bool Contains(TArch arch) => _row.ContainsKey(_space.Key(arch));

    /// <summary>The table's own index column for an architecture (NAS-Bench-201's official index), if the table has one.</summary>
    public int? OfficialIndex(TArch arch) =>
        _officialIndex != null && _row.TryGetValue(_space.Key(arch), out int i) ? _officialIndex[i] : null;

    public TArch? ByOfficialIndex(int index)
    {
        if (_officialIndex == null) return default;
        int i = Array.IndexOf(_officialIndex, index);
        return i < 0 ? default : Archs[i];
    }
}
