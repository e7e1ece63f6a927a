using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tailor.Arch;
using Tailor.Hardware.Latency;
using Tailor.Util;

namespace Tailor.Hardware.Lut;

/// <summary>Linear calibration of the summed table to whole-network measurements: measured ~ A + B * raw sum.</summary>
public sealed record LutCalibration
{
    [JsonPropertyName("a_ms")] public double A { get; init; }
    [JsonPropertyName("b")] public double B { get; init; } = 1;
    /// <summary>Number of whole networks the fit used (0: identity calibration).</summary>
    [JsonPropertyName("networks")] public int Networks { get; init; }
    [JsonPropertyName("seed")] public int Seed { get; init; }
    /// <summary>Accuracy on the calibration networks before / after calibration.</summary>
    [JsonPropertyName("fit_before")] public PredictionMetrics? Before { get; init; }
    [JsonPropertyName("fit_after")] public PredictionMetrics? After { get; init; }
    /// <summary>When the calibration networks were measured (a recalibration replaces the build-time fit).</summary>
    [JsonPropertyName("date")] public string Date { get; init; } = "";
    /// <summary>The calibration networks: choice indices, raw prediction, measured time.</summary>
    [JsonPropertyName("samples")] public List<LutCalibrationSample> Samples { get; init; } = new();
    public static LutCalibration Identity { get; } = new();

    /// <summary>Fits measured ~ A + B * raw by least squares of the relative error.</summary>
    public static LutCalibration Fit(IReadOnlyList<int[]> choices, IReadOnlyList<double> raw, IReadOnlyList<double> measured, int seed)
    {
        var (a, b) = LutBuilder.RelativeLinearFit(raw, measured);
        return new LutCalibration
        {
            A = a, B = b, Networks = raw.Count, Seed = seed,
            Before = PredictionMetrics.Of(raw, measured),
            After = PredictionMetrics.Of(raw.Select(x => a + b * x).ToArray(), measured),
            Date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            Samples = choices.Select((c, i) => new LutCalibrationSample { Choices = string.Join(' ', c), RawMs = raw[i], MeasuredMs = measured[i] }).ToList(),
        };
    }
}

public sealed record LutCalibrationSample
{
    [JsonPropertyName("choices")] public string Choices { get; init; } = "";
    [JsonPropertyName("raw_ms")] public double RawMs { get; init; }
    [JsonPropertyName("measured_ms")] public double MeasuredMs { get; init; }
}

/// <summary>A fixed (not searched) part of the network and its measured time.</summary>
public sealed record LutFixedPart
{
    [JsonPropertyName("blocks")] public string Blocks { get; init; } = "";
    [JsonPropertyName("input")] public string Input { get; init; } = "";
    [JsonPropertyName("ms")] public double Ms { get; init; }
}

/// <summary>One searchable layer: its context (input and output shape, stride) and the time of every candidate.</summary>
public sealed record LutLayer
{
    [JsonPropertyName("layer")] public int Layer { get; init; }
    [JsonPropertyName("block")] public string Block { get; init; } = "";
    [JsonPropertyName("input")] public string Input { get; init; } = "";
    [JsonPropertyName("output")] public string Output { get; init; } = "";
    [JsonPropertyName("stride")] public int Stride { get; init; }
    /// <summary>Candidate names in the space's order (choice index i is Candidates[i]).</summary>
    [JsonPropertyName("candidates")] public List<string> Candidates { get; init; } = new();
    /// <summary>Candidate name -> ms (measured time of the block alone, minus one runtime call overhead; identity skip = 0).</summary>
    [JsonPropertyName("ms")] public Dictionary<string, double> Ms { get; init; } = new();
}

/// <summary>
/// A per-layer latency table (LUT) of a layered search space on one target, built like the
/// Single-Path NAS table (../shared/docs/methods.md §1): every candidate of every searchable layer is
/// timed in its real context (input size, channels, stride), the fixed rest of the network separately.
/// Raw prediction = raw fixed part + sum of the chosen entries; <see cref="Calibration"/> maps it to
/// whole-network time (runtime fusion, per-call overhead): prediction = A + B * raw.
/// <see cref="Entry"/> and <see cref="FixedMs"/> are the calibrated values, so
/// <see cref="Predict"/> = FixedMs + sum of Entry, the R = R_fixed + sum R_l form Single-Path NAS uses.
/// </summary>
public sealed class Lut
{
    public const string FormatName = "tailor-lut";
    public const int CurrentVersion = 1;

    [JsonPropertyName("format")] public string Format { get; init; } = FormatName;
    [JsonPropertyName("version")] public int Version { get; init; } = CurrentVersion;
    [JsonPropertyName("space")] public string Space { get; init; } = "";
    [JsonPropertyName("space_config")] public Dictionary<string, string> SpaceConfig { get; init; } = new();
    [JsonPropertyName("input")] public string Input { get; init; } = "";
    [JsonPropertyName("classes")] public int Classes { get; init; }
    [JsonPropertyName("batch")] public int Batch { get; init; } = 1;
    [JsonPropertyName("target")] public string Target { get; init; } = "";
    [JsonPropertyName("runtime")] public string Runtime { get; init; } = "";
    [JsonPropertyName("threads")] public int Threads { get; init; }
    [JsonPropertyName("machine")] public string Machine { get; init; } = "";
    [JsonPropertyName("date")] public string Date { get; init; } = "";
    [JsonPropertyName("measure")] public MeasureOptions? Measure { get; init; }
    /// <summary>What the times are: "cpu" (thread CPU time of single-threaded runs) or "wall".</summary>
    [JsonPropertyName("clock")] public string Clock { get; init; } = "";
    [JsonPropertyName("build_seconds")] public double BuildSeconds { get; init; }
    [JsonPropertyName("load_avg")] public double? LoadAvg { get; init; }
    /// <summary>Parts and networks whose spread never settled during the build (a busy machine): kept, with their error.</summary>
    [JsonPropertyName("unsettled")] public List<string> Unsettled { get; init; } = new();
    /// <summary>Time of one call of an empty graph (subtracted from every measured part, added once to the fixed part).</summary>
    [JsonPropertyName("overhead_ms")] public double OverheadMs { get; init; }
    /// <summary>Uncalibrated fixed part: overhead + sum of the fixed parts.</summary>
    [JsonPropertyName("raw_fixed_ms")] public double RawFixedMs { get; init; }
    [JsonPropertyName("fixed")] public List<LutFixedPart> Fixed { get; init; } = new();
    [JsonPropertyName("layers")] public List<LutLayer> Layers { get; init; } = new();
    [JsonPropertyName("calibration")] public LutCalibration Calibration { get; init; } = LutCalibration.Identity;

    [JsonIgnore] public InputShape InputShape => Tailor.Arch.InputShape.Parse(Input);

    /// <summary>Calibrated fixed part (A + B * raw fixed), ms.</summary>
    [JsonIgnore] public double FixedMs => Calibration.A + Calibration.B * RawFixedMs;

    /// <summary>Uncalibrated time of candidate <paramref name="candidate"/> at searchable layer <paramref name="layer"/>, ms.</summary>
    public double RawEntry(int layer, string candidate)
    {
        if (layer < 0 || layer >= Layers.Count) throw new TailorException($"lut: layer {layer} out of range 0..{Layers.Count - 1}");
        return Layers[layer].Ms.TryGetValue(candidate, out var v) ? v
            : throw new TailorException($"lut: layer {layer}: no entry '{candidate}'; entries: {string.Join(", ", Layers[layer].Ms.Keys)}");
    }

    /// <summary>Calibrated entry R_l[candidate] (B * raw), ms: sum these with <see cref="FixedMs"/>.</summary>
    public double Entry(int layer, string candidate) => Calibration.B * RawEntry(layer, candidate);

    /// <summary>Uncalibrated prediction for one choice index per layer (indices into the space's candidate lists).</summary>
    public double PredictRaw(IReadOnlyList<int> choices, LayeredSpace space) =>
        RawFixedMs + Sum(choices, space);

    /// <summary>Calibrated prediction (ms) for one choice index per searchable layer.</summary>
    public double Predict(IReadOnlyList<int> choices, LayeredSpace space) =>
        Calibration.A + Calibration.B * PredictRaw(choices, space);

    /// <summary>Calibrated prediction (ms) for one choice index per searchable layer, in the candidate order the table recorded.</summary>
    public double Predict(IReadOnlyList<int> choices)
    {
        if (choices.Count != Layers.Count) throw new TailorException($"lut: expected {Layers.Count} layer choices, got {choices.Count}");
        var names = new string[choices.Count];
        for (int l = 0; l < choices.Count; l++)
        {
            var c = Layers[l].Candidates;
            if (choices[l] < 0 || choices[l] >= c.Count) throw new TailorException($"lut: layer {l}: choice {choices[l]} out of range 0..{c.Count - 1}");
            names[l] = c[choices[l]];
        }
        return Predict(names);
    }

    /// <summary>Calibrated prediction from candidate names, one per layer.</summary>
    public double Predict(IReadOnlyList<string> candidates)
    {
        if (candidates.Count != Layers.Count) throw new TailorException($"lut: expected {Layers.Count} layer choices, got {candidates.Count}");
        double s = RawFixedMs;
        for (int l = 0; l < candidates.Count; l++) s += RawEntry(l, candidates[l]);
        return Calibration.A + Calibration.B * s;
    }

    double Sum(IReadOnlyList<int> choices, LayeredSpace space)
    {
        if (choices.Count != Layers.Count) throw new TailorException($"lut: expected {Layers.Count} layer choices, got {choices.Count}");
        double s = 0;
        for (int l = 0; l < choices.Count; l++) s += RawEntry(l, space.Choices(l)[choices[l]].Name);
        return s;
    }

    /// <summary>This table with another calibration.</summary>
    public Lut WithCalibration(LutCalibration c) => Copy(c, BuildSeconds);

    public Lut WithBuildSeconds(double seconds) => Copy(Calibration, seconds);

    Lut Copy(LutCalibration c, double seconds) => new()
    {
        Space = Space, SpaceConfig = SpaceConfig, Input = Input, Classes = Classes, Batch = Batch, Target = Target, Runtime = Runtime,
        Threads = Threads, Machine = Machine, Date = Date, Measure = Measure, Clock = Clock, BuildSeconds = seconds, LoadAvg = LoadAvg, Unsettled = Unsettled,
        OverheadMs = OverheadMs, RawFixedMs = RawFixedMs, Fixed = Fixed, Layers = Layers, Calibration = c,
    };

    static readonly JsonSerializerOptions JsonOpts = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOpts);

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    /// <summary>Reads and checks a table (structure only). Use <see cref="Load(string, LayeredSpace, InputShape?, ILatencyTarget?)"/> to also verify what it is for.</summary>
    public static Lut Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { throw new TailorException($"{path}: file not found"); }
        catch (IOException e) { throw new TailorException($"{path}: cannot read ({e.Message})"); }
        return Parse(text, path);
    }

    public static Lut Parse(string json, string source = "<lut>")
    {
        Lut? t;
        try { t = JsonSerializer.Deserialize<Lut>(json, JsonOpts); }
        catch (JsonException e)
        {
            string where = e.Path is { Length: > 0 } p ? $" at {p}" : "";
            throw new TailorException($"{source}: not a valid latency table (corrupt JSON{where}, line {(e.LineNumber ?? 0) + 1})");
        }
        if (t == null) throw new TailorException($"{source}: not a valid latency table (empty)");
        TailorException Err(string field, string msg) => new($"{source}: $.{field}: {msg}");
        if (t.Format != FormatName) throw Err("format", $"expected '{FormatName}' (got '{t.Format}')");
        if (t.Version != CurrentVersion) throw Err("version", $"unsupported version {t.Version}; this Tailor reads version {CurrentVersion}");
        if (string.IsNullOrEmpty(t.Space)) throw Err("space", "missing");
        if (string.IsNullOrEmpty(t.Target)) throw Err("target", "missing");
        try { _ = t.InputShape; } catch (TailorException) { throw Err("input", $"expected CxHxW (got '{t.Input}')"); }
        if (t.Layers.Count == 0) throw Err("layers", "no searchable layers");
        static bool Ok(double v) => double.IsFinite(v) && v >= 0;
        if (!double.IsFinite(t.RawFixedMs) || t.RawFixedMs <= 0) throw Err("raw_fixed_ms", $"expected a positive time (got {t.RawFixedMs})");
        if (!Ok(t.OverheadMs)) throw Err("overhead_ms", $"expected a time >= 0 (got {t.OverheadMs})");
        for (int l = 0; l < t.Layers.Count; l++)
        {
            var ly = t.Layers[l];
            if (ly.Layer != l) throw Err($"layers[{l}].layer", $"expected {l} (got {ly.Layer})");
            if (ly.Ms.Count == 0) throw Err($"layers[{l}].ms", "no candidates");
            if (ly.Candidates.Count != ly.Ms.Count || ly.Candidates.Any(c => !ly.Ms.ContainsKey(c)))
                throw Err($"layers[{l}].candidates", "must list exactly the candidates of ms, in the space's order");
            foreach (var (k, v) in ly.Ms)
                if (!double.IsFinite(v)) throw Err($"layers[{l}].ms.{k}", $"not a finite time ({v})");
        }
        var c = t.Calibration ?? LutCalibration.Identity;
        if (!double.IsFinite(c.A) || !double.IsFinite(c.B) || c.B <= 0) throw Err("calibration", $"invalid calibration a={c.A} b={c.B}");
        return t;
    }

    /// <summary>
    /// Loads a table and refuses it (one line naming the field) unless it was built for this space
    /// (name, configuration, candidates per layer), input size, classes and target.
    /// </summary>
    public static Lut Load(string path, LayeredSpace space, InputShape? input = null, ILatencyTarget? target = null)
    {
        var t = Load(path);
        t.Verify(space, input, target, path);
        return t;
    }

    public void Verify(LayeredSpace space, InputShape? input = null, ILatencyTarget? target = null, string source = "<lut>")
    {
        TailorException Err(string field, string msg) => new($"{source}: $.{field}: {msg}");
        if (Space != space.Name) throw Err("space", $"table is for space '{Space}', not '{space.Name}'");
        foreach (var (k, v) in space.Config)
            if (!SpaceConfig.TryGetValue(k, out var mine) || mine != v)
                throw Err($"space_config.{k}", $"table has {(mine == null ? "no value" : $"'{mine}'")}, the space has '{v}'");
        foreach (var k in SpaceConfig.Keys)
            if (!space.Config.ContainsKey(k)) throw Err($"space_config.{k}", "the space has no such setting");
        var want = input ?? space.Input;
        if (Input != want.ToString()) throw Err("input", $"table is for input {Input}, not {want}");
        if (Classes != space.Classes) throw Err("classes", $"table is for {Classes} classes, not {space.Classes}");
        if (target != null && Target != target.Spec) throw Err("target", $"table was measured on '{Target}', not '{target.Spec}'");
        if (Layers.Count != space.LayerCount) throw Err("layers", $"table has {Layers.Count} searchable layers, the space has {space.LayerCount}");
        for (int l = 0; l < Layers.Count; l++)
        {
            var names = space.Choices(l).Select(c => c.Name).ToList();
            var missing = names.Where(n => !Layers[l].Ms.ContainsKey(n)).ToList();
            if (missing.Count > 0) throw Err($"layers[{l}].ms", $"no entry for candidate '{missing[0]}'");
            var extra = Layers[l].Ms.Keys.Where(n => !names.Contains(n)).ToList();
            if (extra.Count > 0) throw Err($"layers[{l}].ms.{extra[0]}", "the space has no such candidate at this layer");
            if (!Layers[l].Candidates.SequenceEqual(names))
                throw Err($"layers[{l}].candidates", $"table order {string.Join(",", Layers[l].Candidates)} differs from the space's {string.Join(",", names)}");
        }
    }

    /// <summary>The named space this table was built for, rebuilt from <see cref="SpaceConfig"/>.</summary>
    public LayeredSpace RebuildSpace()
    {
        try { return Spaces.FromConfig(Space, SpaceConfig, Classes); }
        catch (FormatException) { throw new TailorException($"lut: $.space_config: unreadable value in {string.Join(", ", SpaceConfig.Select(kv => $"{kv.Key}={kv.Value}"))}"); }
    }
}
