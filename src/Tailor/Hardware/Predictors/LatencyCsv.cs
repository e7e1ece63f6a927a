using System.Globalization;

namespace Tailor.Hardware.Predictors;

/// <summary>Architectures (one choice per encoding group) with measured latencies, read from a CSV.</summary>
public sealed record LatencyData(string Csv, string Column, IArchEncoding Encoding, int[][] Choices, double[] Latency, int[] Lines)
{
    public int Count => Latency.Length;
}

/// <summary>
/// Reads a latency CSV: a header row, then one architecture per row. Errors name the file, the line
/// and the column: a missing column, a non-numeric or non-positive latency, an unparsable architecture.
/// Fields may be double-quoted ("" inside quotes is a quote).
/// </summary>
public static class LatencyCsv
{
    public static LatencyData Load(string path, IArchEncoding encoding, string column, string? archColumn = null)
    {
        if (!File.Exists(path)) throw new TailorException($"{path}: file not found");
        string ac = archColumn ?? encoding.DefaultColumn;
        using var reader = new StreamReader(path);
        string? header = reader.ReadLine();
        if (header == null) throw new TailorException($"{path}: empty file (expected a header row)");
        var cols = Split(header, path, 1);
        int ci = cols.IndexOf(column), ai = cols.IndexOf(ac);
        if (ci < 0) throw new TailorException($"{path}: no column '{column}'; columns: {string.Join(", ", cols)}");
        if (ai < 0) throw new TailorException($"{path}: no architecture column '{ac}' (encoding {encoding.Name}); columns: {string.Join(", ", cols)}");
        var choices = new List<int[]>();
        var lat = new List<double>();
        var lines = new List<int>();
        int lineNo = 1;
        for (string? line; (line = reader.ReadLine()) != null;)
        {
            lineNo++;
            if (line.Length == 0) continue;
            var f = Split(line, path, lineNo);
            if (f.Count != cols.Count) throw new TailorException($"{path}:{lineNo}: expected {cols.Count} fields, got {f.Count}");
            string v = f[ci].Trim();
            if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double y) || !double.IsFinite(y))
                throw new TailorException($"{path}:{lineNo}: column '{column}': '{v}' is not a number");
            if (y <= 0) throw new TailorException($"{path}:{lineNo}: column '{column}': latency must be > 0 (got {v})");
            int[] c;
            try { c = encoding.Parse(f[ai]); }
            catch (TailorException e) { throw new TailorException($"{path}:{lineNo}: column '{ac}': {e.Message}"); }
            choices.Add(c);
            lat.Add(y);
            lines.Add(lineNo);
        }
        if (lat.Count == 0) throw new TailorException($"{path}: no data rows");
        return new LatencyData(path, column, encoding, choices.ToArray(), lat.ToArray(), lines.ToArray());
    }

    static List<string> Split(string line, string path, int lineNo)
    {
        var r = new List<string>();
        var cur = new System.Text.StringBuilder();
        bool q = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (q)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { cur.Append('"'); i++; }
                else if (c == '"') q = false;
                else cur.Append(c);
            }
            else if (c == '"') q = true;
            else if (c == ',') { r.Add(cur.ToString()); cur.Clear(); }
            else cur.Append(c);
        }
        if (q) throw new TailorException($"{path}:{lineNo}: unterminated quoted field");
        r.Add(cur.ToString().TrimEnd('\r'));
        return r;
    }
}
