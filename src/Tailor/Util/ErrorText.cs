using System.Text;
using System.Text.Json;

namespace Tailor.Util;

/// <summary>
/// Error text that stays on one line. User errors are printed as a single "error: ..." line, but
/// parser messages quote the offending input (System.Text.Json echoes a bad literal, newline included),
/// so quoted text is escaped here rather than trusted to be printable.
/// </summary>
public static class ErrorText
{
    /// <summary>Replaces line breaks, tabs and other control characters by escapes (\n, \r, \t, \u0000).</summary>
    public static string OneLine(string s)
    {
        int i = 0;
        while (i < s.Length && !char.IsControl(s[i])) i++;
        if (i == s.Length) return s;
        var b = new StringBuilder(s.Length + 8).Append(s, 0, i);
        for (; i < s.Length; i++)
        {
            char c = s[i];
            if (!char.IsControl(c)) { b.Append(c); continue; }
            b.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => $"\\u{(int)c:x4}" });
        }
        return b.ToString();
    }

    /// <summary>
    /// A JSON parse error as one short clause: the parser's own words without its trailing
    /// "Path: .. | LineNumber: .." block, then the JSON path (when inside the document) and the 1-based line.
    /// </summary>
    public static string Json(JsonException e)
    {
        string m = e.Message;
        int cut = m.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0) cut = m.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        if (cut >= 0) m = m[..cut];
        m = OneLine(m.Trim().TrimEnd('.'));
        var b = new StringBuilder(m);
        if (e.Path is { Length: > 0 } p && p != "$") b.Append(" at ").Append(p);
        if (e.LineNumber is long line) b.Append(", line ").Append(line + 1);
        return b.ToString();
    }
}
