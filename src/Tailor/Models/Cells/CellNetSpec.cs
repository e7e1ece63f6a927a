using System.Globalization;
using System.Text;
using System.Text.Json;
using Tailor.Arch;
using Tailor.Util;

namespace Tailor.Models.Cells;

/// <summary>One stage of a cell network: how many cells, which cell, and (DARTS space) where each cell's first input comes from.</summary>
public sealed record CellStage
{
    public int Cells { get; init; }
    /// <summary>The cell genotype: a NAS-Bench-201 string, or a DARTS cell list <c>[('op', i), ...]</c>.</summary>
    public string Cell { get; init; } = "";
    /// <summary>
    /// DARTS space only: the stage node feeding the first input (s0) of each cell, null for the DARTS chain
    /// (cell j reads node j-2). Stage nodes: -1 = the input before the stage input, 0 = the stage input
    /// (stem or reduction cell output), j = output of cell j (1-based). Cell j's second input is node j-1.
    /// </summary>
    public IReadOnlyList<int>? S0 { get; init; }

    public int S0Of(int cell) => S0 != null ? S0[cell - 1] : cell - 2;
}

/// <summary>
/// A trainable cell network, described without any runtime: the IR for cell (DAG) networks, kept
/// apart from the chain IR of <see cref="Architecture"/>. Versioned JSON ("tailor-cellnet", version 1)
/// with a canonical writer (parse then write gives the same bytes), exact parameter and MAC counts
/// (<see cref="CellNetCount"/>) and a TorchSharp builder (<see cref="CellNetworks"/>).
/// nb201: stem conv3x3 + BN, 3 stages of cells (C, 2C, 4C) joined by residual reduction blocks, BN + ReLU,
/// global pool, linear (NAS-Bench-201's network: C = 16, 5 cells per stage).
/// darts: stem conv3x3 to stem_multiplier*C + BN, 3 stages of normal cells joined by 2 reduction cells,
/// global pool, linear (DARTS's NetworkCIFAR without the auxiliary head).
/// </summary>
public sealed record CellNetSpec
{
    public const string FormatName = "tailor-cellnet";
    public const int CurrentVersion = 1;

    public string Name { get; init; } = "cellnet";
    public string Space { get; init; } = "nb201";
    public InputShape Input { get; init; } = new(3, 32, 32);
    public int Classes { get; init; } = 10;
    public int Channels { get; init; } = 16;
    /// <summary>DARTS space: the stem's width as a multiple of C (DARTS: 3).</summary>
    public int StemMultiplier { get; init; } = 3;
    public IReadOnlyList<CellStage> Stages { get; init; } = Array.Empty<CellStage>();
    /// <summary>DARTS space: the two reduction cells (DARTS cell lists).</summary>
    public IReadOnlyList<string> Reductions { get; init; } = Array.Empty<string>();

    public bool IsNb201 => Space == "nb201";

    public Nb201Cell Nb201Cell(int stage) => Cells.Nb201Cell.Parse(Stages[stage].Cell);
    public DartsCell NormalCell(int stage) => DartsCell.Parse(Stages[stage].Cell, $"stages[{stage}].cell");
    public DartsCell ReductionCell(int r) => DartsCell.Parse(Reductions[r], $"reductions[{r}]");

    /// <summary>NAS-Bench-201's network for a cell (defaults: the benchmark's C = 16, N = 5).</summary>
    public static CellNetSpec Nb201(Nb201Cell cell, int c = 16, int n = 5, int classes = 10, InputShape? input = null, string name = "nb201") =>
        new()
        {
            Name = name, Space = "nb201", Input = input ?? new InputShape(3, 32, 32), Classes = classes, Channels = c,
            Stages = Enumerable.Range(0, 3).Select(_ => new CellStage { Cells = n, Cell = cell.ToString() }).ToArray(),
        };

    /// <summary>NAS-Bench-201 network with one cell per stage (H-DAS stage-specific cells).</summary>
    public static CellNetSpec Nb201(IReadOnlyList<Nb201Cell> cells, int c, int n, int classes = 10, InputShape? input = null, string name = "nb201") =>
        new()
        {
            Name = name, Space = "nb201", Input = input ?? new InputShape(3, 32, 32), Classes = classes, Channels = c,
            Stages = cells.Select(x => new CellStage { Cells = n, Cell = x.ToString() }).ToArray(),
        };

    /// <summary>DARTS's NetworkCIFAR for a genotype: <paramref name="layers"/> cells, reductions at layers/3 and 2*layers/3 (DARTS evaluation: C = 36, 20 layers).</summary>
    public static CellNetSpec Darts(DartsGenotype g, int c = 36, int layers = 20, int classes = 10, InputShape? input = null, string name = "darts")
    {
        if (layers < 5) throw new TailorException($"darts network: at least 5 layers (one normal cell per stage and 2 reduction cells), got {layers}");
        int r1 = layers / 3, r2 = 2 * layers / 3;
        int[] counts = { r1, r2 - r1 - 1, layers - r2 - 1 };
        return new CellNetSpec
        {
            Name = name, Space = "darts", Input = input ?? new InputShape(3, 32, 32), Classes = classes, Channels = c, StemMultiplier = 3,
            Stages = counts.Select(k => new CellStage { Cells = k, Cell = g.Normal.ToString() }).ToArray(),
            Reductions = new[] { g.Reduce.ToString(), g.Reduce.ToString() },
        };
    }

    /// <summary>Checks every field (genotypes parsed, s0 sources in range, shapes); throws TailorException naming the field.</summary>
    public void Validate(string source = "<cellnet>")
    {
        TailorException Err(string path, string msg) => new($"{source}: {path}: {msg}");
        if (Space != "nb201" && Space != "darts") throw Err("space", $"'{Space}' is not a cell space; expected nb201 or darts");
        if (Classes < 1) throw Err("classes", $"must be positive, got {Classes}");
        if (Channels < 1) throw Err("channels", $"must be positive, got {Channels}");
        if (Input.Height % 4 != 0 || Input.Width % 4 != 0) throw Err("input", $"{Input}: height and width must be multiples of 4 (two stride-2 reductions)");
        if (Stages.Count != 3) throw Err("stages", $"{Stages.Count} stages, needs 3");
        for (int s = 0; s < 3; s++)
        {
            var st = Stages[s];
            if (st.Cells < 1) throw Err($"stages[{s}].cells", $"must be at least 1, got {st.Cells}");
            try
            {
                if (IsNb201) Cells.Nb201Cell.Parse(st.Cell); else DartsCell.Parse(st.Cell, $"stages[{s}].cell");
            }
            catch (TailorException e) { throw new TailorException($"{source}: {(IsNb201 ? $"stages[{s}].cell: " : "")}{e.Message}"); }
            if (st.S0 != null)
            {
                if (IsNb201) throw Err($"stages[{s}].s0", "only DARTS-space cells have a second input");
                if (st.S0.Count != st.Cells) throw Err($"stages[{s}].s0", $"{st.S0.Count} entries for {st.Cells} cells");
                for (int j = 1; j <= st.Cells; j++)
                    if (st.S0[j - 1] < -1 || st.S0[j - 1] > j - 2)
                        throw Err($"stages[{s}].s0[{j - 1}]", $"cell {j} reads node {st.S0[j - 1]}; it may read nodes -1..{j - 2}");
            }
        }
        if (IsNb201)
        {
            if (Reductions.Count != 0) throw Err("reductions", "nb201 networks use fixed residual reduction blocks");
        }
        else
        {
            if (Channels % 2 != 0) throw Err("channels", $"DARTS cells need an even C (factorized reduce), got {Channels}");
            if (StemMultiplier < 1) throw Err("stem_multiplier", $"must be positive, got {StemMultiplier}");
            if (Reductions.Count != 2) throw Err("reductions", $"{Reductions.Count} reduction cells, needs 2");
            for (int r = 0; r < 2; r++)
            {
                try { DartsCell.Parse(Reductions[r], $"reductions[{r}]"); }
                catch (TailorException e) { throw new TailorException($"{source}: {e.Message}"); }
            }
        }
    }
}

/// <summary>Reads and writes <see cref="CellNetSpec"/> as canonical JSON.</summary>
public static class CellNetJson
{
    static readonly string[] TopFields = { "format", "version", "name", "space", "input", "classes", "channels", "stem_multiplier", "stages", "reductions" };
    static readonly string[] StageFields = { "cells", "cell", "s0" };

    public static string Write(CellNetSpec n)
    {
        n.Validate();
        var sb = new StringBuilder();
        sb.Append("{\n");
        sb.Append($"  \"format\": \"{CellNetSpec.FormatName}\",\n");
        sb.Append($"  \"version\": {CellNetSpec.CurrentVersion},\n");
        sb.Append($"  \"name\": {Str(n.Name)},\n");
        sb.Append($"  \"space\": {Str(n.Space)},\n");
        sb.Append($"  \"input\": \"{n.Input}\",\n");
        sb.Append($"  \"classes\": {n.Classes},\n");
        sb.Append($"  \"channels\": {n.Channels},\n");
        if (!n.IsNb201) sb.Append($"  \"stem_multiplier\": {n.StemMultiplier},\n");
        sb.Append("  \"stages\": [\n");
        for (int s = 0; s < n.Stages.Count; s++)
        {
            var st = n.Stages[s];
            sb.Append($"    {{\"cells\": {st.Cells}, \"cell\": {Str(st.Cell)}");
            if (st.S0 != null) sb.Append($", \"s0\": [{string.Join(", ", st.S0)}]");
            sb.Append(s + 1 < n.Stages.Count ? "},\n" : "}\n");
        }
        sb.Append(n.IsNb201 ? "  ]\n" : "  ],\n");
        if (!n.IsNb201)
        {
            sb.Append("  \"reductions\": [\n");
            for (int r = 0; r < n.Reductions.Count; r++) sb.Append($"    {Str(n.Reductions[r])}{(r + 1 < n.Reductions.Count ? "," : "")}\n");
            sb.Append("  ]\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    public static void Save(CellNetSpec n, string path) => AtomicFile.WriteAllText(path, Write(n));

    public static CellNetSpec Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { throw new TailorException($"{path}: file not found"); }
        catch (IOException e) { throw new TailorException($"{path}: cannot read ({e.Message})"); }
        return Parse(text, path);
    }

    public static bool LooksLikeCellNet(string json)
    {
        try
        {
            using var d = JsonDocument.Parse(json);
            return d.RootElement.ValueKind == JsonValueKind.Object && d.RootElement.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.String && f.GetString() == CellNetSpec.FormatName;
        }
        catch (JsonException) { return false; }
    }

    public static CellNetSpec Parse(string json, string source = "<cellnet>")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new TailorException($"{source}: not valid JSON ({ErrorText.Json(e)})"); }
        using (doc)
        {
            TailorException Err(string path, string msg) => new($"{source}: {path}: {msg}");
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Err("$", "expected a JSON object");
            foreach (var p in root.EnumerateObject())
                if (!TopFields.Contains(p.Name)) throw Err(p.Name, $"unknown field; expected {string.Join(", ", TopFields)}");
            string Req(JsonElement o, string name, string path)
            {
                if (!o.TryGetProperty(name, out var v)) throw Err(path, "missing");
                if (v.ValueKind != JsonValueKind.String) throw Err(path, "expected a string");
                return v.GetString()!;
            }
            int Int(JsonElement o, string name, string path, int? def = null)
            {
                if (!o.TryGetProperty(name, out var v)) return def ?? throw Err(path, "missing");
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int x)) throw Err(path, "expected an integer");
                return x;
            }
            string fmt = Req(root, "format", "format");
            if (fmt != CellNetSpec.FormatName) throw Err("format", $"'{fmt}', expected '{CellNetSpec.FormatName}'");
            int version = Int(root, "version", "version");
            if (version != CellNetSpec.CurrentVersion) throw Err("version", $"{version} is not supported (this build reads version {CellNetSpec.CurrentVersion})");
            string space = Req(root, "space", "space");
            InputShape input;
            try { input = InputShape.Parse(Req(root, "input", "input")); }
            catch (TailorException e) { throw Err("input", e.Message); }
            if (!root.TryGetProperty("stages", out var stagesEl) || stagesEl.ValueKind != JsonValueKind.Array) throw Err("stages", "missing or not an array");
            var stages = new List<CellStage>();
            int si = 0;
            foreach (var st in stagesEl.EnumerateArray())
            {
                string path = $"stages[{si}]";
                if (st.ValueKind != JsonValueKind.Object) throw Err(path, "expected an object");
                foreach (var p in st.EnumerateObject())
                    if (!StageFields.Contains(p.Name)) throw Err($"{path}.{p.Name}", $"unknown field; expected {string.Join(", ", StageFields)}");
                List<int>? s0 = null;
                if (st.TryGetProperty("s0", out var s0El))
                {
                    if (s0El.ValueKind != JsonValueKind.Array) throw Err($"{path}.s0", "expected an array of integers");
                    s0 = new List<int>();
                    foreach (var v in s0El.EnumerateArray())
                    {
                        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int x)) throw Err($"{path}.s0", "expected an array of integers");
                        s0.Add(x);
                    }
                }
                stages.Add(new CellStage { Cells = Int(st, "cells", $"{path}.cells"), Cell = Req(st, "cell", $"{path}.cell"), S0 = s0 });
                si++;
            }
            var reductions = new List<string>();
            if (root.TryGetProperty("reductions", out var redEl))
            {
                if (redEl.ValueKind != JsonValueKind.Array) throw Err("reductions", "expected an array of cell strings");
                int ri = 0;
                foreach (var r in redEl.EnumerateArray())
                {
                    if (r.ValueKind != JsonValueKind.String) throw Err($"reductions[{ri}]", "expected a string");
                    reductions.Add(r.GetString()!);
                    ri++;
                }
            }
            if (space == "nb201" && root.TryGetProperty("stem_multiplier", out _)) throw Err("stem_multiplier", "only DARTS-space networks have one");
            var spec = new CellNetSpec
            {
                Name = root.TryGetProperty("name", out var nm) && nm.ValueKind == JsonValueKind.String ? nm.GetString()! : "cellnet",
                Space = space, Input = input, Classes = Int(root, "classes", "classes"), Channels = Int(root, "channels", "channels"),
                StemMultiplier = Int(root, "stem_multiplier", "stem_multiplier", 3), Stages = stages, Reductions = reductions,
            };
            spec.Validate(source);
            return spec;
        }
    }

    static string Str(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}

/// <summary>Exact parameter and multiply-accumulate counts of a cell network (conv and linear MACs, like <see cref="ArchAnalysis"/>).</summary>
public static class CellNetCount
{
    public sealed record Counts(long Params, long Macs);

    public static Counts Count(CellNetSpec n)
    {
        n.Validate();
        return n.IsNb201 ? Nb201(n) : Darts(n);
    }

    static Counts Nb201(CellNetSpec n)
    {
        long h = n.Input.Height, w = n.Input.Width, c = n.Channels, cin = n.Input.Channels;
        long p = 9 * cin * c + 2 * c, m = 9 * cin * c * h * w;
        for (int s = 0; s < 3; s++)
        {
            if (s > 0)
            {
                long co = 2 * c; h /= 2; w /= 2;
                p += ResNetBasicBlock.ParamCount(c, co, true);
                m += (9 * c * co + 9 * co * co + c * co) * h * w;
                c = co;
            }
            var cell = n.Nb201Cell(s);
            var (cp, cm) = Nb201CellCount(cell, c, h, w);
            p += n.Stages[s].Cells * cp;
            m += n.Stages[s].Cells * cm;
        }
        p += 2 * c + c * n.Classes + n.Classes;
        m += c * n.Classes;
        return new Counts(p, m);
    }

    /// <summary>Params and MACs of one NAS-Bench-201 cell with affine BN at c channels and h x w.</summary>
    public static (long Params, long Macs) Nb201CellCount(Nb201Cell cell, long c, long h, long w)
    {
        long p = 0, m = 0;
        foreach (int op in cell.Ops)
        {
            long k = op == Cells.Nb201Cell.Conv1x1 ? 1 : op == Cells.Nb201Cell.Conv3x3 ? 9 : 0;
            if (k == 0) continue;
            p += k * c * c + 2 * c;
            m += k * c * c * h * w;
        }
        return (p, m);
    }

    /// <summary>Params and MACs of one derived DARTS op (affine BN) at c channels, output h x w.</summary>
    public static (long Params, long Macs) DartsOpCount(int op, long c, bool stride2, long ho, long wo)
    {
        long hw = ho * wo;
        switch (DartsCell.OpNames[op])
        {
            case "sep_conv_3x3": return (2 * (9 * c + c * c + 2 * c), 2 * (9 * c + c * c) * hw);
            case "sep_conv_5x5": return (2 * (25 * c + c * c + 2 * c), 2 * (25 * c + c * c) * hw);
            case "dil_conv_3x3": return (9 * c + c * c + 2 * c, (9 * c + c * c) * hw);
            case "dil_conv_5x5": return (25 * c + c * c + 2 * c, (25 * c + c * c) * hw);
            case "skip_connect": return stride2 ? (c * c + 2 * c, c * c * hw) : (0, 0);
            default: return (0, 0); // pools
        }
    }

    /// <summary>Params and MACs of one derived DARTS cell: preprocessing of its two inputs (channels cpp, cp) and its 8 ops.</summary>
    public static (long Params, long Macs) DartsCellCount(DartsCell cell, long cpp, bool s0Reduced, long cp, long c, bool reduction, long h, long w)
    {
        // h, w: resolution of the cell's inputs s1 (s0 is at 2h x 2w when s0Reduced)
        long p = 0, m = 0;
        p += cpp * c + 2 * c; m += cpp * c * h * w; // ReLUConvBN 1x1 or FactorizedReduce (both cpp*c weights, output h x w)
        p += cp * c + 2 * c; m += cp * c * h * w;
        long ho = reduction ? h / 2 : h, wo = reduction ? w / 2 : w;
        for (int k = 0; k < DartsCell.Pairs; k++)
        {
            var (op, input) = cell.Nodes[k];
            bool s2 = reduction && input < 2;
            var (op_p, op_m) = DartsOpCount(op, c, s2, ho, wo);
            p += op_p; m += op_m;
        }
        return (p, m);
    }

    static Counts Darts(CellNetSpec n)
    {
        var plan = DartsWiring.Plan(n);
        long p = 0, m = 0;
        long cs = (long)n.StemMultiplier * n.Channels;
        p += 9 * n.Input.Channels * cs + 2 * cs;
        m += 9 * n.Input.Channels * cs * n.Input.Height * n.Input.Width;
        foreach (var cell in plan.Cells)
        {
            var (cp_, cm_) = DartsCellCount(cell.Genotype, cell.C0In, cell.S0Reduced, cell.C1In, cell.C, cell.Reduction, cell.H, cell.W);
            p += cp_; m += cm_;
        }
        p += plan.FinalChannels * n.Classes + n.Classes;
        m += plan.FinalChannels * n.Classes;
        return new Counts(p, m);
    }
}

/// <summary>The cell-by-cell wiring of a DARTS-space network (shared by the builder and the counter).</summary>
public static class DartsWiring
{
    /// <summary>One cell: its genotype, its inputs (global node ids), their channels, its width C and the input resolution.</summary>
    public sealed record CellInfo(int Index, DartsCell Genotype, bool Reduction, int Stage, int S0Node, int S1Node, long C0In, bool S0Reduced, long C1In, long C, long H, long W, int OutNode);

    public sealed record WiringPlan(IReadOnlyList<CellInfo> Cells, int OutputNode, long FinalChannels, int NodeCount);

    public static WiringPlan Plan(CellNetSpec n)
    {
        // global nodes: 0 = stem; then one per cell in execution order
        var chans = new List<long>(); var level = new List<int>();
        long cs = (long)n.StemMultiplier * n.Channels;
        chans.Add(cs); level.Add(0);
        var cells = new List<CellInfo>();
        long h = n.Input.Height, w = n.Input.Width, c = n.Channels;
        int prevNode = 0, curNode = 0; // stage nodes -1 and 0 in global ids
        int index = 0;
        for (int s = 0; s < 3; s++)
        {
            var st = n.Stages[s];
            if (s > 0)
            {
                // reduction cell reading the previous stage's last two nodes (prevNode, curNode)
                c *= 2;
                var red = n.ReductionCell(s - 1);
                int outId = chans.Count;
                cells.Add(new CellInfo(index++, red, true, -s, prevNode, curNode, chans[prevNode], level[prevNode] < level[curNode], chans[curNode], c, h, w, outId));
                chans.Add(DartsCell.Steps * c); level.Add(s);
                h /= 2; w /= 2;
                prevNode = curNode; curNode = outId;
            }
            // stage nodes: -1 -> prevNode, 0 -> curNode, j -> ids of the cells
            var stageNodes = new List<int> { prevNode, curNode };
            var normal = n.NormalCell(s);
            for (int j = 1; j <= st.Cells; j++)
            {
                int s0 = stageNodes[st.S0Of(j) + 1], s1 = stageNodes[j];
                int outId = chans.Count;
                cells.Add(new CellInfo(index++, normal, false, s, s0, s1, chans[s0], level[s0] < level[s1], chans[s1], c, h, w, outId));
                chans.Add(DartsCell.Steps * c); level.Add(s);
                stageNodes.Add(outId);
            }
            prevNode = stageNodes[^2]; curNode = stageNodes[^1];
        }
        return new WiringPlan(cells, curNode, chans[curNode], chans.Count);
    }
}
