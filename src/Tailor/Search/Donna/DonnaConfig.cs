using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tailor.Arch;
using Tailor.Util;

namespace Tailor.Search.Donna;

/// <summary>
/// What a DONNA experiment is (fixed when the experiment is created and stored in its
/// experiment store): the data, the teacher, the block space, and the settings of blockwise
/// distillation and of the architecture library. Hardware scenarios (target, latency limit, the
/// search itself) are not part of it: one experiment serves any number of searches.
/// </summary>
public sealed record DonnaConfig
{
    /// <summary>Dataset spec (<see cref="Data.Datasets.Open"/>).</summary>
    public string Data { get; init; } = "cifar10";
    /// <summary>Use only this many images of the training file (stratified, by seed) before the validation split.</summary>
    public int? Subset { get; init; }
    /// <summary>Validation share of the training images (fraction or count): BKD's held-out NSR and the library's accuracy are measured there.</summary>
    public string ValSplit { get; init; } = "0.2";
    public long Seed { get; init; }

    /// <summary>Reference network (zoo:NAME or an architecture JSON), re-targeted to the data and width-scaled.</summary>
    public string Teacher { get; init; } = "zoo:mobilenet_v2";
    public double TeacherWidth { get; init; } = 1.0;
    public int TeacherEpochs { get; init; } = 30;
    public int TeacherBatch { get; init; } = 64;
    public double TeacherLr { get; init; } = 0.02;
    /// <summary>A finished `tailor train` run (arch.json + weights.bin + run.json) to use as the teacher instead of training one.</summary>
    public string? TeacherRun { get; init; }

    /// <summary>Block boundaries as reference-block indices "0,3,6,13,17" (N+1 numbers for N blocks); null: cut at every stride-2 block.</summary>
    public string? Cuts { get; init; }
    /// <summary>Without <see cref="Cuts"/>: reference blocks kept as they are before the first DONNA block (DONNA keeps the first layers fixed).</summary>
    public int SkipFirst { get; init; } = 1;
    /// <summary>Block grid spec (<see cref="BlockGrid.Parse"/>); null: <see cref="BlockGrid.Small"/>.</summary>
    public string? Grid { get; init; }

    public int BkdImages { get; init; } = 1600;
    public int BkdValImages { get; init; } = 300;
    public int BkdEpochs { get; init; } = 4;
    public int BkdBatch { get; init; } = 32;
    /// <summary>Adam learning rate of blockwise distillation (cosine schedule).</summary>
    public double BkdLr { get; init; } = 0.003;
    /// <summary>Teacher features are cached on disk when they take at most this many MB, else recomputed per batch.</summary>
    public int FeatureCacheMb { get; init; } = 1024;

    // The defaults are the smallest protocol whose library accuracies rank at all on the CIFAR-10 subset
    // (bench/README.md, DONNA): a 5-epoch teacher (27% val) and 1-epoch finetunes on 400 validation
    // images gave Kendall tau ~0; a 30-epoch teacher, 3-epoch finetunes and 800 validation images 0.35.
    /// <summary>Architectures in the library (sampled across the MAC range).</summary>
    public int LibrarySize { get; init; } = 24;
    public int LibraryEpochs { get; init; } = 3;
    /// <summary>
    /// Finetunes per library architecture, each with its own seed (data order, augmentation); the predictor's
    /// target is their mean accuracy. Short finetunes differ from seed to seed by about as much as close
    /// architectures differ from each other, so averaging is what lets the library rank them.
    /// </summary>
    public int LibrarySeeds { get; init; } = 1;
    /// <summary>Training images of each library finetune (null: the whole training split).</summary>
    public int? LibraryImages { get; init; } = 3200;
    public int LibraryBatch { get; init; } = 64;
    public double LibraryLr { get; init; } = 0.02;
    /// <summary>
    /// Before every library/finetune evaluation, BatchNorm statistics are recomputed over this many training
    /// batches (0: off). A one-epoch finetune leaves running averages dominated by its first steps, which
    /// scrambles the library's accuracies (see <see cref="Training.Trainer.RecalibrateBatchNorm"/>).
    /// </summary>
    public int BnRecalibration { get; init; } = 20;
    /// <summary>Distillation: loss = alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE.</summary>
    public double KdAlpha { get; init; } = 0.8;
    public double KdTemperature { get; init; } = 2.0;
    /// <summary>Ridge penalty of the accuracy predictor (on standardised NSR features).</summary>
    public double RidgeLambda { get; init; } = 0.1;

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Compact JSON that also writes NaN and infinities (as named literals) instead of throwing.</summary>
    public static readonly JsonSerializerOptions Compact = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>A number from a stored result: null and "NaN"/"Infinity" strings (how NaN is written) are read back as NaN/infinity.</summary>
    public static double Num(System.Text.Json.Nodes.JsonNode? n)
    {
        if (n == null) return double.NaN;
        if (n is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<string>(out var s))
            return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : double.NaN;
        return n.GetValue<double>();
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static DonnaConfig FromJson(string json, string source)
    {
        try { return JsonSerializer.Deserialize<DonnaConfig>(json, Json) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new TailorException($"{source}: corrupt experiment configuration ({ErrorText.Json(e)})"); }
    }

    public BlockGrid GridOrDefault() => Grid == null ? BlockGrid.Small : BlockGrid.Parse(Grid);

    /// <summary>The config with file and directory paths made absolute (so `tailor donna ...` works from any directory).</summary>
    public DonnaConfig Normalized()
    {
        static string Abs(string p) => Path.GetFullPath(p);
        string data = Data;
        int colon = data.IndexOf(':');
        if (colon > 0 && colon < data.Length - 1 && data[..colon] is "fashion-mnist" or "idx" or "cifar10" or "mnist") data = data[..(colon + 1)] + Abs(data[(colon + 1)..]);
        else if (Directory.Exists(data)) data = Abs(data);
        string teacher = !Teacher.StartsWith("zoo:", StringComparison.Ordinal) && File.Exists(Teacher) ? Abs(Teacher) : Teacher;
        return this with { Data = data, Teacher = teacher, TeacherRun = TeacherRun == null ? null : Abs(TeacherRun) };
    }

    /// <summary>Refuses a distillation weight outside [0, 1] (NaN included), naming the option.</summary>
    public static void RequireKdWeight(double v, string option)
    {
        if (!(v >= 0 && v <= 1)) throw new TailorException($"--{option}: expected 0 <= alpha <= 1 (got {v})");
    }

    public DonnaConfig Validate()
    {
        void Pos(int v, string name) => OptionCheck.AtLeast("--" + name, v, 1);
        Pos(TeacherEpochs, "teacher-epochs"); Pos(TeacherBatch, "teacher-batch");
        Pos(BkdImages, "bkd-images"); Pos(BkdValImages, "bkd-val-images"); Pos(BkdEpochs, "bkd-epochs"); Pos(BkdBatch, "bkd-batch");
        Pos(LibrarySize, "library-size"); Pos(LibraryEpochs, "library-epochs"); Pos(LibrarySeeds, "library-seeds"); Pos(LibraryBatch, "library-batch");
        if (LibrarySize < 4) throw new TailorException($"--library-size: the predictor needs at least 4 architectures (got {LibrarySize})");
        if (LibraryImages is int li && li < 1) throw new TailorException($"--library-images: expected >= 1 (got {li})");
        if (BnRecalibration < 0) throw new TailorException($"--bn-recalibrate: expected >= 0 batches (got {BnRecalibration})");
        if (SkipFirst < 0) throw new TailorException($"--skip-first: expected >= 0 (got {SkipFirst})");
        if (Subset is int s && s < 1) throw new TailorException($"--subset: expected >= 1 (got {s})");
        OptionCheck.Positive("--teacher-width", TeacherWidth);
        foreach (var (v, n) in new[] { (TeacherLr, "teacher-lr"), (BkdLr, "bkd-lr"), (LibraryLr, "library-lr"), (KdTemperature, "kd-temperature") })
            OptionCheck.Positive("--" + n, v);
        RequireKdWeight(KdAlpha, "kd-alpha");
        OptionCheck.NonNegative("--ridge-lambda", RidgeLambda);
        Tailor.Data.ValSplit.Parse(ValSplit);
        GridOrDefault();
        ParseCuts(Cuts);
        return this;
    }

    /// <summary>"0,3,6,13,17" into [(0,3),(3,6),(6,13),(13,17)]; null stays null.</summary>
    public static IReadOnlyList<(int, int)>? ParseCuts(string? spec)
    {
        if (spec == null) return null;
        var v = spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int x) ? x : throw new TailorException($"--cuts '{spec}': '{s}' is not a block index"))
            .ToArray();
        if (v.Length < 2) throw new TailorException($"--cuts '{spec}': expected at least two boundaries (N+1 indices for N blocks), e.g. 0,3,6,13,17");
        for (int i = 1; i < v.Length; i++)
            if (v[i] <= v[i - 1]) throw new TailorException($"--cuts '{spec}': boundaries must increase ({v[i - 1]} then {v[i]})");
        return Enumerable.Range(0, v.Length - 1).Select(i => (v[i], v[i + 1])).ToList();
    }

    /// <summary>Names and values of the settings that differ (for "this experiment was created with other settings").</summary>
    public static IEnumerable<string> Differences(DonnaConfig a, DonnaConfig b)
    {
        foreach (var p in typeof(DonnaConfig).GetProperties())
        {
            var va = p.GetValue(a); var vb = p.GetValue(b);
            if (!Equals(va, vb)) yield return $"{JsonNamingPolicy.KebabCaseLower.ConvertName(p.Name)}: {Fmt(va)} here, {Fmt(vb)} in the experiment";
        }
        static string Fmt(object? o) => o switch { null => "none", double d => d.ToString("G", CultureInfo.InvariantCulture), _ => o.ToString()! };
    }
}
