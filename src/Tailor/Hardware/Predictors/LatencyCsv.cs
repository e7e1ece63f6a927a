using Tailor.Util;

namespace Tailor.Hardware.Predictors;

/// <summary>Architectures (one choice per encoding group) with measured latencies, read from a CSV.</summary>
public sealed record LatencyData(string Csv, string Column, IArchEncoding Encoding, int[][] Choices, double[] Latency, int[] Lines)
{
    public int Count => Latency.Length;
}

/// <summary>
/// Reads a latency CSV: a header row, then one architecture per row. Errors name the file, the line
/// and the column: a missing column, a non-numeric or non-positive latency, an unparsable architecture
/// (parsing and the file/line/field errors are <see cref="CsvTable"/>'s).
/// </summary>
public static class LatencyCsv
{
    public static LatencyData Load(string path, IArchEncoding encoding, string column, string? archColumn = null)
    {
        var t = CsvTable.Load(path);
        string ac = archColumn ?? encoding.DefaultColumn;
        t.Column(column); // the latency column's absence first: it is the option a user types
        if (!t.HasColumn(ac)) throw new TailorException($"{path}: no architecture column '{ac}' (encoding {encoding.Name}); columns: {string.Join(", ", t.Header)}");
        double[] lat = t.Numeric(column);
        string[] archs = t.Text(ac);
        var choices = new int[t.Rows.Count][];
        for (int i = 0; i < choices.Length; i++)
        {
            if (lat[i] <= 0) throw new TailorException(FormattableString.Invariant($"{path}:{t.Lines[i]}: column '{column}': latency must be > 0 (got {lat[i]})"));
            try { choices[i] = encoding.Parse(archs[i]); }
            catch (TailorException e) { throw new TailorException($"{path}:{t.Lines[i]}: column '{ac}': {e.Message}"); }
        }
        return new LatencyData(path, column, encoding, choices, lat, t.Lines.ToArray());
    }
}
