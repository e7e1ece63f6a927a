using System.Text;

namespace Tailor.Models.Cells;

/// <summary>
/// A DARTS cell: 2 input nodes (0 = the cell before the previous one, 1 = the previous cell) and 4
/// intermediate nodes (2..5); node 2+i sums two ops, each applied to an earlier node (input 0..i+1).
/// The cell's output concatenates the 4 intermediate nodes (concat range(2, 6)).
/// <see cref="ToString"/> writes DARTS's list form: <c>[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...]</c> (8 pairs).
/// </summary>
public sealed class DartsCell : IEquatable<DartsCell>
{
    public const int Steps = 4, InputsPerNode = 2, Pairs = Steps * InputsPerNode;
    /// <summary>The 8 candidate ops of the DARTS search space, in DARTS's PRIMITIVES order.</summary>
    public static readonly string[] OpNames =
        { "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5" };
    public const int None = 0, MaxPool = 1, AvgPool = 2, Skip = 3;
    /// <summary>Edges of the search cell: node 2+i has 2+i incoming edges; 14 in all.</summary>
    public const int SearchEdges = 14;

    readonly (int Op, int Input)[] _pairs;
    public IReadOnlyList<(int Op, int Input)> Nodes => _pairs;

    public DartsCell(IReadOnlyList<(int Op, int Input)> pairs, string where = "DARTS cell")
    {
        if (pairs.Count != Pairs) throw new TailorException($"{where}: {pairs.Count} (op, input) pairs, needs {Pairs} (2 per intermediate node)");
        for (int k = 0; k < Pairs; k++)
        {
            var (op, input) = pairs[k];
            int node = k / 2;
            if (op <= None || op >= OpNames.Length) throw new TailorException($"{where}: pair {k}: op index {op} is not a derived-cell op ({string.Join(", ", OpNames[1..])})");
            if (input < 0 || input > node + 1) throw new TailorException($"{where}: pair {k} (node {node + 2}) reads node {input}; it may read nodes 0..{node + 1}");
        }
        _pairs = pairs.ToArray();
    }

    /// <summary>Search-cell edge index of (node 2+i, input j): offset of node i plus j.</summary>
    public static int EdgeIndex(int step, int input) => step * (step + 3) / 2 + input;

    public static (int Step, int Input) EdgeOf(int edge)
    {
        for (int s = 0; s < Steps; s++)
            if (edge < EdgeIndex(s + 1, 0)) return (s, edge - EdgeIndex(s, 0));
        throw new ArgumentOutOfRangeException(nameof(edge));
    }

    public override string ToString()
    {
        var sb = new StringBuilder(256).Append('[');
        for (int k = 0; k < Pairs; k++)
        {
            if (k > 0) sb.Append(", ");
            sb.Append("('").Append(OpNames[_pairs[k].Op]).Append("', ").Append(_pairs[k].Input).Append(')');
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Parses the list form; whitespace between tokens is free, quotes may be ' or ".</summary>
    public static DartsCell Parse(string s, string where = "DARTS cell")
    {
        var p = new GenotypeParser(s, where);
        var c = p.ReadCell(where);
        p.End();
        return c;
    }

    public bool Equals(DartsCell? o) => o is not null && _pairs.AsSpan().SequenceEqual(o._pairs);
    public override bool Equals(object? obj) => Equals(obj as DartsCell);
    public override int GetHashCode() => ToString().GetHashCode();
}

/// <summary>
/// A DARTS genotype: a normal and a reduction cell. Format (what DARTS's own code prints for a searched
/// genotype): <c>Genotype(normal=[...], normal_concat=range(2, 6), reduce=[...], reduce_concat=range(2, 6))</c>.
/// The parser also accepts the concat written as <c>[2, 3, 4, 5]</c> (DARTS's genotypes.py) and any
/// whitespace between tokens; the printer always writes the canonical form above, so
/// Print(Parse(s)) == s for canonical strings and Parse(Print(g)) == g always.
/// </summary>
public sealed record DartsGenotype(DartsCell Normal, DartsCell Reduce)
{
    public override string ToString() =>
        $"Genotype(normal={Normal}, normal_concat=range(2, 6), reduce={Reduce}, reduce_concat=range(2, 6))";

    public static DartsGenotype Parse(string s)
    {
        var p = new GenotypeParser(s, "DARTS genotype");
        p.Word("Genotype"); p.Char('(');
        p.Word("normal"); p.Char('=');
        var normal = p.ReadCell("DARTS genotype normal cell");
        p.Char(','); p.Word("normal_concat"); p.Char('='); p.ReadConcat("normal_concat");
        p.Char(','); p.Word("reduce"); p.Char('=');
        var reduce = p.ReadCell("DARTS genotype reduce cell");
        p.Char(','); p.Word("reduce_concat"); p.Char('='); p.ReadConcat("reduce_concat");
        p.Char(')');
        p.End();
        return new DartsGenotype(normal, reduce);
    }

    /// <summary>DARTS (second order) from the DARTS paper's code, genotypes.py DARTS_V2.</summary>
    public static DartsGenotype DartsV2 => Parse(
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], " +
        "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])");
}

/// <summary>A small tokenizer for the Python-literal genotype forms.</summary>
internal sealed class GenotypeParser(string s, string what)
{
    int _i;

    TailorException Err(string why) => new($"{what} '{Short(s)}': {why} at character {_i + 1}");
    static string Short(string t) => t.Length <= 60 ? t : t[..57] + "...";

    void Ws() { while (_i < s.Length && char.IsWhiteSpace(s[_i])) _i++; }

    public void Char(char c)
    {
        Ws();
        if (_i >= s.Length || s[_i] != c) throw Err($"expected '{c}'");
        _i++;
    }

    bool TryChar(char c) { Ws(); if (_i < s.Length && s[_i] == c) { _i++; return true; } return false; }

    public void Word(string w)
    {
        Ws();
        if (string.CompareOrdinal(s, _i, w, 0, w.Length) != 0 || (_i + w.Length < s.Length && (char.IsLetterOrDigit(s[_i + w.Length]) || s[_i + w.Length] == '_')))
            throw Err($"expected '{w}'");
        _i += w.Length;
    }

    int Int()
    {
        Ws();
        int start = _i;
        while (_i < s.Length && char.IsDigit(s[_i])) _i++;
        if (start == _i || _i - start > 6) throw Err("expected a node number");
        return int.Parse(s.AsSpan(start, _i - start));
    }

    string Quoted()
    {
        Ws();
        if (_i >= s.Length || (s[_i] != '\'' && s[_i] != '"')) throw Err("expected a quoted op name");
        char q = s[_i++];
        int start = _i;
        while (_i < s.Length && s[_i] != q) _i++;
        if (_i >= s.Length) throw Err("unterminated op name");
        return s[start.._i++];
    }

    public DartsCell ReadCell(string where)
    {
        Char('[');
        var pairs = new List<(int, int)>();
        if (!TryChar(']'))
        {
            do
            {
                Char('(');
                string op = Quoted();
                int k = Array.IndexOf(DartsCell.OpNames, op);
                if (k < 0) throw new TailorException($"{where}: unknown op '{op}'; expected one of {string.Join(", ", DartsCell.OpNames[1..])}");
                if (k == DartsCell.None) throw new TailorException($"{where}: op 'none' cannot appear in a derived cell");
                Char(',');
                int input = Int();
                Char(')');
                pairs.Add((k, input));
            } while (TryChar(','));
            Char(']');
        }
        return new DartsCell(pairs, where);
    }

    public void ReadConcat(string field)
    {
        Ws();
        var nodes = new List<int>();
        if (TryChar('['))
        {
            do nodes.Add(Int()); while (TryChar(','));
            Char(']');
        }
        else
        {
            Word("range"); Char('(');
            int a = Int(); Char(','); int b = Int(); Char(')');
            for (int n = a; n < b; n++) nodes.Add(n);
        }
        if (!nodes.SequenceEqual(new[] { 2, 3, 4, 5 }))
            throw new TailorException($"{what}: {field} is [{string.Join(", ", nodes)}]; only range(2, 6) (all four intermediate nodes) is supported");
    }

    public void End()
    {
        Ws();
        if (_i != s.Length) throw Err("unexpected trailing text");
    }
}
