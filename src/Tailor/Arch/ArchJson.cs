using System.Globalization;
using System.Text;
using System.Text.Json;
using Tailor.Util;

namespace Tailor.Arch;

/// <summary>
/// Reads and writes the versioned JSON form of <see cref="Architecture"/>. Errors name the file,
/// the JSON path of the offending field and what was expected. The writer is canonical (fixed
/// field order, one block per line), so parse(write(a)) writes the same bytes again.
/// </summary>
public static class ArchJson
{
    static readonly string[] TopFields = { "format", "version", "name", "input", "classes", "stem", "blocks", "head" };
    static readonly Dictionary<BlockKind, string[]> BlockFields = new()
    {
        [BlockKind.ConvBnAct] = new[] { "kind", "in", "out", "kernel", "stride", "groups", "padding", "act" },
        [BlockKind.MBConv] = new[] { "kind", "in", "out", "kernel", "expansion", "stride", "act", "se", "groups", "shuffle", "force_expand" },
        [BlockKind.Skip] = new[] { "kind", "in", "out", "stride", "act" },
    };

    public static string KindName(BlockKind k) => k switch
    {
        BlockKind.ConvBnAct => "conv_bn_act",
        BlockKind.MBConv => "mbconv",
        BlockKind.Skip => "skip",
        _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    public static string ActName(Activation a) => a switch
    {
        Activation.None => "none",
        Activation.Relu => "relu",
        Activation.Relu6 => "relu6",
        Activation.Swish => "swish",
        Activation.HSwish => "hswish",
        Activation.Sigmoid => "sigmoid",
        Activation.HSigmoid => "hsigmoid",
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    static readonly string[] ActNames = Enum.GetValues<Activation>().Select(ActName).ToArray();

    public static Activation ParseAct(string s, string where) =>
        Enum.GetValues<Activation>().FirstOrDefault(a => ActName(a) == s, (Activation)(-1)) is var a && (int)a >= 0
            ? a
            : throw new TailorException($"{where}: unknown activation '{s}'; expected one of {string.Join(", ", ActNames)}");

    public static Architecture Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (FileNotFoundException) { throw new TailorException($"{path}: file not found"); }
        catch (DirectoryNotFoundException) { throw new TailorException($"{path}: file not found"); }
        catch (IOException e) { throw new TailorException($"{path}: cannot read ({e.Message})"); }
        return Parse(text, path);
    }

    /// <summary>Parses and validates (<see cref="ArchAnalysis"/> shape checks included).</summary>
    public static Architecture Parse(string json, string source = "<arch>")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new TailorException($"{source}: not valid JSON ({ErrorText.Json(e)})"); }
        using (doc)
        {
            var r = new Reader(source);
            var arch = r.ReadArch(doc.RootElement);
            ArchAnalysis.Analyze(arch, source); // shape and channel validation
            return arch;
        }
    }

    sealed class Reader(string source)
    {
        TailorException Err(string path, string msg) => new($"{source}: {path}: {msg}");

        void CheckFields(JsonElement obj, string path, string[] allowed)
        {
            foreach (var p in obj.EnumerateObject())
                if (!allowed.Contains(p.Name))
                    throw Err(path, $"unknown field '{p.Name}'; expected one of {string.Join(", ", allowed)}");
        }

        JsonElement Obj(JsonElement e, string path)
        {
            if (e.ValueKind != JsonValueKind.Object) throw Err(path, $"expected an object, got {Describe(e)}");
            return e;
        }

        static string Describe(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.String => $"string \"{e.GetString()}\"",
            JsonValueKind.Number => $"number {e.GetRawText()}",
            JsonValueKind.Array => "an array",
            JsonValueKind.Object => "an object",
            JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
            JsonValueKind.Null => "null",
            _ => e.ValueKind.ToString(),
        };

        bool Has(JsonElement obj, string name, out JsonElement v) => obj.TryGetProperty(name, out v) && v.ValueKind != JsonValueKind.Null;

        int Int(JsonElement obj, string name, string path, int? dflt = null, int min = int.MinValue, int[]? oneOf = null)
        {
            string p = $"{path}.{name}";
            if (!Has(obj, name, out var v))
                return dflt ?? throw Err(p, "missing required field");
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int x))
                throw Err(p, $"expected an integer, got {Describe(v)}");
            if (oneOf != null && !oneOf.Contains(x)) throw Err(p, $"expected one of {string.Join(", ", oneOf)} (got {x})");
            if (x < min) throw Err(p, $"expected an integer >= {min} (got {x})");
            return x;
        }

        double Dbl(JsonElement obj, string name, string path, double? dflt, double min, double max)
        {
            string p = $"{path}.{name}";
            if (!Has(obj, name, out var v)) return dflt ?? throw Err(p, "missing required field");
            if (v.ValueKind != JsonValueKind.Number) throw Err(p, $"expected a number, got {Describe(v)}");
            double x = v.GetDouble();
            if (!(x >= min && x <= max)) throw Err(p, $"expected a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}] (got {v.GetRawText()})");
            return x;
        }

        string Str(JsonElement obj, string name, string path, string? dflt = null)
        {
            string p = $"{path}.{name}";
            if (!Has(obj, name, out var v)) return dflt ?? throw Err(p, "missing required field");
            if (v.ValueKind != JsonValueKind.String) throw Err(p, $"expected a string, got {Describe(v)}");
            return v.GetString()!;
        }

        bool Bool(JsonElement obj, string name, string path)
        {
            if (!Has(obj, name, out var v)) return false;
            if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw Err($"{path}.{name}", $"expected true or false, got {Describe(v)}");
            return v.GetBoolean();
        }

        Activation Act(JsonElement obj, string name, string path, Activation dflt)
        {
            if (!Has(obj, name, out _)) return dflt;
            string s = Str(obj, name, path);
            try { return ParseAct(s, ""); }
            catch (TailorException) { throw Err($"{path}.{name}", $"unknown activation '{s}'; expected one of {string.Join(", ", ActNames)}"); }
        }

        public Architecture ReadArch(JsonElement root)
        {
            Obj(root, "$");
            CheckFields(root, "$", TopFields);
            string fmt = Str(root, "format", "$", FormatDefault);
            if (fmt != Architecture.FormatName) throw Err("$.format", $"expected \"{Architecture.FormatName}\" (got \"{fmt}\")");
            int ver = Int(root, "version", "$");
            if (ver != Architecture.CurrentVersion) throw Err("$.version", $"unsupported version {ver}; this Tailor reads version {Architecture.CurrentVersion}");
            if (!Has(root, "input", out var inp)) throw Err("$.input", "missing required field");
            Obj(inp, "$.input");
            CheckFields(inp, "$.input", new[] { "channels", "height", "width" });
            var input = new InputShape(Int(inp, "channels", "$.input", min: 1), Int(inp, "height", "$.input", min: 1), Int(inp, "width", "$.input", min: 1));
            var stem = Blocks(root, "stem", "$.stem", required: false);
            var blocks = Blocks(root, "blocks", "$.blocks", required: true);
            var head = new Head();
            if (Has(root, "head", out var h))
            {
                Obj(h, "$.head");
                CheckFields(h, "$.head", new[] { "convs", "dropout" });
                head = new Head { Convs = Blocks(h, "convs", "$.head.convs", required: false), Dropout = Dbl(h, "dropout", "$.head", 0.0, 0.0, 0.999) };
                for (int i = 0; i < head.Convs.Count; i++)
                    if (head.Convs[i].Kind != BlockKind.ConvBnAct) throw Err($"$.head.convs[{i}].kind", "head convs must be conv_bn_act");
            }
            return new Architecture
            {
                Name = Str(root, "name", "$", "net"),
                Input = input,
                Classes = Int(root, "classes", "$", min: 1),
                Stem = stem,
                Blocks = blocks,
                Head = head,
            };
        }

        const string FormatDefault = Architecture.FormatName;

        List<Block> Blocks(JsonElement obj, string name, string path, bool required)
        {
            if (!Has(obj, name, out var arr))
                return required ? throw Err(path, "missing required field") : new List<Block>();
            if (arr.ValueKind != JsonValueKind.Array) throw Err(path, $"expected an array of blocks, got {Describe(arr)}");
            var list = new List<Block>();
            int i = 0;
            foreach (var e in arr.EnumerateArray()) list.Add(ReadBlock(e, $"{path}[{i++}]"));
            return list;
        }

        Block ReadBlock(JsonElement e, string path)
        {
            Obj(e, path);
            string kindS = Str(e, "kind", path);
            BlockKind kind = kindS switch
            {
                "conv_bn_act" => BlockKind.ConvBnAct,
                "mbconv" => BlockKind.MBConv,
                "skip" => BlockKind.Skip,
                _ => throw Err($"{path}.kind", $"unknown block kind '{kindS}'; expected one of conv_bn_act, mbconv, skip"),
            };
            CheckFields(e, path, BlockFields[kind]);
            int? declaredIn = Has(e, "in", out _) ? Int(e, "in", path, min: 1) : null;
            switch (kind)
            {
                case BlockKind.ConvBnAct:
                {
                    int k = Int(e, "kernel", path, min: 1);
                    return new Block
                    {
                        Kind = kind, In = declaredIn, Out = Int(e, "out", path, min: 1), Kernel = k,
                        Stride = Int(e, "stride", path, 1, min: 1), Groups = Int(e, "groups", path, 1, min: 1),
                        Padding = Has(e, "padding", out _) ? Int(e, "padding", path, min: 0) : null,
                        Act = Act(e, "act", path, Activation.Relu),
                    };
                }
                case BlockKind.MBConv:
                {
                    SqueezeExcite? se = null;
                    if (Has(e, "se", out var s))
                    {
                        string sp = $"{path}.se";
                        Obj(s, sp);
                        CheckFields(s, sp, new[] { "ratio", "base", "act", "gate" });
                        string bas = Str(s, "base", sp, "in");
                        if (bas is not ("in" or "expanded")) throw Err($"{sp}.base", $"expected \"in\" or \"expanded\" (got \"{bas}\")");
                        se = new SqueezeExcite(Dbl(s, "ratio", sp, null, 1e-6, 1.0), bas, Act(s, "act", sp, Activation.Relu), Act(s, "gate", sp, Activation.Sigmoid));
                    }
                    return new Block
                    {
                        Kind = kind, In = declaredIn, Out = Int(e, "out", path, min: 1),
                        Kernel = Int(e, "kernel", path, oneOf: new[] { 3, 5, 7 }),
                        Expansion = Int(e, "expansion", path, min: 1),
                        Stride = Int(e, "stride", path, 1, oneOf: new[] { 1, 2 }),
                        Act = Act(e, "act", path, Activation.Relu), Se = se,
                        Groups = Int(e, "groups", path, 1, min: 1), Shuffle = Bool(e, "shuffle", path),
                        ForceExpand = Bool(e, "force_expand", path),
                    };
                }
                default:
                    return new Block
                    {
                        Kind = kind, In = declaredIn, Out = Int(e, "out", path, min: 1),
                        Stride = Int(e, "stride", path, 1, oneOf: new[] { 1, 2 }), Act = Act(e, "act", path, Activation.Relu),
                    };
            }
        }
    }

    // ---------------------------------------------------------------- writing

    public static string Write(Architecture a)
    {
        var sb = new StringBuilder();
        sb.Append("{\n");
        sb.Append($"  \"format\": \"{Architecture.FormatName}\",\n");
        sb.Append($"  \"version\": {Architecture.CurrentVersion},\n");
        sb.Append($"  \"name\": {JsonSerializer.Serialize(a.Name)},\n");
        sb.Append($"  \"input\": {{\"channels\": {a.Input.Channels}, \"height\": {a.Input.Height}, \"width\": {a.Input.Width}}},\n");
        sb.Append($"  \"classes\": {a.Classes},\n");
        AppendBlocks(sb, "stem", a.Stem, "  ");
        sb.Append(",\n");
        AppendBlocks(sb, "blocks", a.Blocks, "  ");
        sb.Append(",\n");
        sb.Append("  \"head\": {\n");
        AppendBlocks(sb, "convs", a.Head.Convs, "    ");
        sb.Append($",\n    \"dropout\": {Num(a.Head.Dropout)}\n  }}\n}}\n");
        return sb.ToString();
    }

    /// <summary>Writes atomically (temp file + rename).</summary>
    public static void Save(Architecture a, string path) => Util.AtomicFile.WriteAllText(path, Write(a));

    static void AppendBlocks(StringBuilder sb, string name, List<Block> blocks, string indent)
    {
        if (blocks.Count == 0) { sb.Append($"{indent}\"{name}\": []"); return; }
        sb.Append($"{indent}\"{name}\": [\n");
        for (int i = 0; i < blocks.Count; i++)
        {
            sb.Append(indent).Append("  ").Append(BlockToJson(blocks[i]));
            sb.Append(i + 1 < blocks.Count ? ",\n" : "\n");
        }
        sb.Append($"{indent}]");
    }

    public static string BlockToJson(Block b)
    {
        var f = new List<string> { $"\"kind\": \"{KindName(b.Kind)}\"" };
        if (b.In is int inC) f.Add($"\"in\": {inC}");
        f.Add($"\"out\": {b.Out}");
        switch (b.Kind)
        {
            case BlockKind.ConvBnAct:
                f.Add($"\"kernel\": {b.Kernel}");
                f.Add($"\"stride\": {b.Stride}");
                if (b.Groups != 1) f.Add($"\"groups\": {b.Groups}");
                if (b.Padding is int p) f.Add($"\"padding\": {p}");
                f.Add($"\"act\": \"{ActName(b.Act)}\"");
                break;
            case BlockKind.MBConv:
                f.Add($"\"kernel\": {b.Kernel}");
                f.Add($"\"expansion\": {b.Expansion}");
                f.Add($"\"stride\": {b.Stride}");
                f.Add($"\"act\": \"{ActName(b.Act)}\"");
                if (b.Se is { } se)
                    f.Add($"\"se\": {{\"ratio\": {Num(se.Ratio)}, \"base\": \"{se.Base}\", \"act\": \"{ActName(se.Act)}\", \"gate\": \"{ActName(se.Gate)}\"}}");
                if (b.Groups != 1) f.Add($"\"groups\": {b.Groups}");
                if (b.Shuffle) f.Add("\"shuffle\": true");
                if (b.ForceExpand) f.Add("\"force_expand\": true");
                break;
            case BlockKind.Skip:
                f.Add($"\"stride\": {b.Stride}");
                f.Add($"\"act\": \"{ActName(b.Act)}\"");
                break;
        }
        return "{" + string.Join(", ", f) + "}";
    }

    static string Num(double d) => d.ToString("R", CultureInfo.InvariantCulture);
}
