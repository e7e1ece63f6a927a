using Tailor.Benchmarks;
using Tailor.Models.Cells;

namespace Tailor.Search.Differentiable;

/// <summary>One NAS-Bench-201 table row as the cell searches read it.</summary>
public sealed record Nb201Row(string Arch, double Valid, double Test, double? Latency);

/// <summary>
/// The NAS-Bench-201 CIFAR-10 table seen by the cell searches: the search framework's
/// <see cref="TableEvaluator{TArch}"/> over <see cref="Nb201Space"/> (BenchFactory.Nb201), read with the
/// validation column (what a search may select by), the test column (reported) and one latency column.
/// </summary>
public sealed class Nb201Table
{
    public const string ValidColumn = BenchFactory.Nb201Valid, TestColumn = BenchFactory.Nb201Test;
    public const string DefaultLatencyColumn = BenchFactory.DefaultLatency;

    public BenchSetup<Nb201Arch> Setup { get; }
    public TableEvaluator<Nb201Arch> Evaluator => Setup.Evaluator;
    public string Path => Evaluator.Path;
    public string? LatencyColumn => Evaluator.Columns.Latency;

    public static string DefaultPath() => SharedData.Path201;

    /// <summary>Normalises a latency column name: "pixel3" and "latency_ms_pixel3" both name latency_ms_pixel3.</summary>
    public static string LatencyName(string c) => c.StartsWith("latency_ms_", StringComparison.Ordinal) ? c : "latency_ms_" + c;

    public Nb201Table(string path, string? latencyColumn = DefaultLatencyColumn)
    {
        if (!File.Exists(path)) throw new TailorException($"{path}: NAS-Bench-201 table not found");
        Setup = BenchFactory.Nb201(new BenchRequest { File = path, LatencyColumn = latencyColumn == null ? "none" : LatencyName(latencyColumn) });
    }

    public IEnumerable<Nb201Row> Rows => Evaluator.Archs.Select((a, i) =>
    {
        var m = Evaluator.RowMetrics[i];
        return new Nb201Row(a.ToString(), m.Valid, m.Test, double.IsNaN(m.Latency) ? null : m.Latency);
    });

    public bool Contains(Nb201Cell c) => Evaluator.Contains(c.Arch);

    /// <summary>The cell's row; a cell missing from the table is a one-line TailorException naming the file.</summary>
    public Nb201Row Lookup(Nb201Cell c)
    {
        var m = Evaluator.Evaluate(c.Arch);
        return new Nb201Row(c.ToString(), m.Valid, m.Test, double.IsNaN(m.Latency) ? null : m.Latency);
    }

    /// <summary>Mean and median of the test (or valid) column over all cells: the random-architecture baseline.</summary>
    public (double Mean, double Median) RandomBaseline(bool test = true)
    {
        var v = Evaluator.RowMetrics.Select(r => test ? r.Test : r.Valid).Where(x => !double.IsNaN(x)).OrderBy(x => x).ToArray();
        double med = v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
        return (v.Average(), med);
    }
}
