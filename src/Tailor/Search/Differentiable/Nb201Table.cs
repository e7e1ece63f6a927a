using System.Globalization;
using Tailor.Models.Cells;

namespace Tailor.Search.Differentiable;

/// <summary>One NAS-Bench-201 table row as the cell searches read it.</summary>
public sealed record Nb201Row(int Index, string Arch, double Valid, double Test, double? Latency, double ParamsM);

/// <summary>
/// The NAS-Bench-201 CIFAR-10 table (../shared/data/nas-bench-201/nb201_cifar10.csv): derived cells are
/// scored by the validation column (what a search may look at) and reported with the test column.
/// A minimal reader; the search issue's TableEvaluator replaces it when merged.
/// </summary>
public sealed class Nb201Table
{
    public const string ValidColumn = "cifar10_valid_acc_200ep", TestColumn = "cifar10_test_acc_200ep";
    public const string DefaultLatencyColumn = "latency_ms_pixel3";

    readonly Dictionary<string, Nb201Row> _rows = new(StringComparer.Ordinal);
    public string Path { get; }
    public string? LatencyColumn { get; }
    public IReadOnlyList<string> LatencyColumns { get; }
    public IReadOnlyCollection<Nb201Row> Rows => _rows.Values;

    public static string DefaultPath()
    {
        var env = Environment.GetEnvironmentVariable("TAILOR_SHARED_DATA");
        if (!string.IsNullOrWhiteSpace(env)) return System.IO.Path.Combine(env, "nas-bench-201", "nb201_cifar10.csv");
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(System.IO.Path.GetFullPath(start)); d != null; d = d.Parent)
                if (File.Exists(System.IO.Path.Combine(d.FullName, "Tailor.slnx")))
                    return System.IO.Path.GetFullPath(System.IO.Path.Combine(d.FullName, "..", "shared", "data", "nas-bench-201", "nb201_cifar10.csv"));
        return System.IO.Path.GetFullPath(System.IO.Path.Combine("..", "shared", "data", "nas-bench-201", "nb201_cifar10.csv"));
    }

    /// <summary>Normalises a latency column name: "pixel3" and "latency_ms_pixel3" both name latency_ms_pixel3.</summary>
    public static string LatencyName(string c) => c.StartsWith("latency_ms_", StringComparison.Ordinal) ? c : "latency_ms_" + c;

    public Nb201Table(string path, string? latencyColumn = DefaultLatencyColumn)
    {
        Path = path;
        if (!File.Exists(path)) throw new TailorException($"{path}: NAS-Bench-201 table not found");
        using var r = new StreamReader(path);
        var header = r.ReadLine()?.Split(',') ?? throw new TailorException($"{path}: empty file");
        int Col(string name)
        {
            int i = Array.IndexOf(header, name);
            if (i < 0) throw new TailorException($"{path}: no column '{name}' (columns: {string.Join(", ", header)})");
            return i;
        }
        int ci = Col("index"), ca = Col("arch_str"), cv = Col(ValidColumn), ct = Col(TestColumn), cp = Col("params_m");
        LatencyColumns = header.Where(h => h.StartsWith("latency_ms_", StringComparison.Ordinal)).ToArray();
        int cl = -1;
        if (latencyColumn != null)
        {
            LatencyColumn = LatencyName(latencyColumn);
            cl = Array.IndexOf(header, LatencyColumn);
            if (cl < 0) throw new TailorException($"{path}: no latency column '{LatencyColumn}' (latency columns: {string.Join(", ", LatencyColumns)})");
        }
        int line = 1;
        string? l;
        while ((l = r.ReadLine()) != null)
        {
            line++;
            if (l.Length == 0) continue;
            var f = l.Split(',');
            if (f.Length != header.Length) throw new TailorException($"{path}:{line}: {f.Length} fields, header has {header.Length}");
            double Num(int c)
            {
                if (!double.TryParse(f[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    throw new TailorException($"{path}:{line}: column '{header[c]}': '{f[c]}' is not a number");
                return v;
            }
            Nb201Cell cell;
            try { cell = Nb201Cell.Parse(f[ca]); }
            catch (TailorException e) { throw new TailorException($"{path}:{line}: {e.Message}"); }
            string key = cell.ToString();
            var row = new Nb201Row((int)Num(ci), key, Num(cv), Num(ct), cl >= 0 ? Num(cl) : null, Num(cp));
            if (!_rows.TryAdd(key, row)) throw new TailorException($"{path}:{line}: duplicate cell {key}");
        }
        if (_rows.Count == 0) throw new TailorException($"{path}: no rows");
    }

    public bool Contains(Nb201Cell c) => _rows.ContainsKey(c.ToString());

    public Nb201Row Lookup(Nb201Cell c) =>
        _rows.TryGetValue(c.ToString(), out var r) ? r : throw new TailorException($"{Path}: the table has no row for cell {c}");

    /// <summary>Mean and median of the test (or valid) column over all cells: the random-architecture baseline.</summary>
    public (double Mean, double Median) RandomBaseline(bool test = true)
    {
        var v = _rows.Values.Select(r => test ? r.Test : r.Valid).OrderBy(x => x).ToArray();
        double med = v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
        return (v.Average(), med);
    }
}
