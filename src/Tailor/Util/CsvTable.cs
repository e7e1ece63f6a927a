using System.Globalization;

namespace Tailor.Util;

/// <summary>
/// A CSV table (header + rows, comma separated, double quotes allowed, "" inside quotes is a quote) with errors
/// that name file, line and column. The one CSV reader for the benchmark tables and the latency data.
/// </summary>
public sealed class CsvTable
{
    public string Path { get; }
    public IReadOnlyList<string> Header { get; }
    /// <summary>Rows as fields; Lines[i] is the 1-based file line of row i.</summary>
    public IReadOnlyList<string[]> Rows { get; }
    public IReadOnlyList<int> Lines { get; }

    CsvTable(string path, string[] header, List<string[]> rows, List<int> lines) { Path = path; Header = header; Rows = rows; Lines = lines; }

    /// <param name="notFoundHint">Appended to the "file not found" error (e.g. where shared data is looked up).</param>
    public static CsvTable Load(string path, string? notFoundHint = null)
    {
        if (!File.Exists(path))
            throw new TailorException($"{path}: file not found" + (notFoundHint is null ? "" : $" ({notFoundHint})"));
        string[] all;
        try { all = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new TailorException($"{path}: cannot read ({e.Message})"); }
        if (all.Length == 0 || all[0].Trim().Length == 0) throw new TailorException($"{path}: empty file (no header line)");
        var header = Split(all[0], path, 1).Select(h => h.Trim()).ToArray();
        var rows = new List<string[]>(all.Length);
        var lines = new List<int>(all.Length);
        for (int i = 1; i < all.Length; i++)
        {
            if (all[i].Length == 0) continue;
            var f = Split(all[i], path, i + 1);
            if (f.Length != header.Length)
                throw new TailorException($"{path}:{i + 1}: {f.Length} fields, the header has {header.Length}");
            rows.Add(f); lines.Add(i + 1);
        }
        if (rows.Count == 0) throw new TailorException($"{path}: no data rows");
        return new CsvTable(path, header, rows, lines);
    }

    static string[] Split(string line, string path, int lineNo)
    {
        if (line.IndexOf('"') < 0) return line.TrimEnd('\r').Split(',');
        var res = new List<string>();
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
            else if (c == ',') { res.Add(cur.ToString()); cur.Clear(); }
            else if (c != '\r') cur.Append(c);
        }
        if (q) throw new TailorException($"{path}:{lineNo}: unterminated quoted field");
        res.Add(cur.ToString());
        return res.ToArray();
    }

    public int Column(string name)
    {
        for (int i = 0; i < Header.Count; i++) if (Header[i] == name) return i;
        throw new TailorException($"{Path}: no column '{name}' (columns: {string.Join(", ", Header)})");
    }

    public bool HasColumn(string name) => Header.Contains(name);

    /// <summary>A numeric column; a non-numeric cell is an error naming file, line and column.</summary>
    public double[] Numeric(string name)
    {
        int c = Column(name);
        var v = new double[Rows.Count];
        for (int i = 0; i < Rows.Count; i++)
        {
            string s = Rows[i][c].Trim();
            if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]) || !double.IsFinite(v[i]))
                throw new TailorException($"{Path}:{Lines[i]}: column '{name}': '{s}' is not a number");
        }
        return v;
    }

    public string[] Text(string name)
    {
        int c = Column(name);
        return Rows.Select(r => r[c]).ToArray();
    }
}
