using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Models;
using Tailor.Util;
using TorchSharp;
using static TorchSharp.torch;
using Architecture = Tailor.Arch.Architecture;
using DataLoader = Tailor.Data.DataLoader;

namespace Tailor.Training;

/// <summary>Everything `tailor train` is asked to do: what to train, on what, how. Stored in run.json and the checkpoint.</summary>
public sealed record RunConfig
{
    /// <summary>An architecture JSON file or zoo:NAME; input and classes are re-targeted to the dataset.</summary>
    public string Arch { get; init; } = "zoo:mobilenet_v2";
    /// <summary>Width multiplier (<see cref="WidthScaling"/>); 1 leaves the architecture as it is.</summary>
    public double Width { get; init; } = 1.0;
    /// <summary>Dataset spec (<see cref="Datasets.Open"/>).</summary>
    public string Data { get; init; } = "fashion-mnist";
    /// <summary>Use only this many images of the training file (stratified, by seed), before the validation split.</summary>
    public int? Subset { get; init; }
    /// <summary>Validation share of the training images: a fraction ("0.1") or a count ("5000"); "0" for none.</summary>
    public string ValSplit { get; init; } = "0.1";
    /// <summary>auto (crop-flip for CIFAR-10, none for IDX sets), none, crop-flip.</summary>
    public string Augment { get; init; } = "auto";
    public TrainConfig Train { get; init; } = new();
    /// <summary>libtorch intra-op threads; 0 means one per core.</summary>
    public int Threads { get; init; }
    /// <summary>cpu or cuda.</summary>
    public string Device { get; init; } = "cpu";

    public static readonly string[] Augments = { "auto", "none", "crop-flip" };

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public RunConfig Validate()
    {
        Train.Validate();
        if (!(Width > 0) || double.IsInfinity(Width)) throw new TailorException($"--width: expected a positive multiplier (got {Width})");
        if (Subset is int s && s < 1) throw new TailorException($"--subset: expected >= 1 images (got {s})");
        Tailor.Data.ValSplit.Parse(ValSplit);
        if (!Augments.Contains(Augment)) throw new TailorException($"--augment '{Augment}': expected one of {string.Join(", ", Augments)}");
        if (Threads < 0) throw new TailorException($"--threads: expected >= 1, or 0 for one per core (got {Threads})");
        if (Device is not ("cpu" or "cuda") && !Device.StartsWith("cuda:", StringComparison.Ordinal))
            throw new TailorException($"--device '{Device}': expected cpu or cuda");
        return this;
    }

    [JsonIgnore]
    public int EffectiveThreads => Threads > 0 ? Threads : Environment.ProcessorCount;
}

/// <summary>The end of a run, as `tailor train` prints it (and --json writes it).</summary>
public sealed record RunSummary(string Out, string Arch, long Params, long Macs, string Input, int Classes, string Data,
    int TrainImages, int ValImages, int TestImages, int Epochs, EpochMetrics? Last, double? BestValAcc,
    double? TestLoss, double? TestAcc, double TrainSeconds, double ImagesPerSecond, string Device, int Threads, long Seed);

/// <summary>
/// One `tailor train` run end to end, reusable by other commands: resolves the dataset and the
/// architecture (re-targeted to the data, width-scaled), checks the output folder, builds model,
/// loaders and <see cref="Trainer"/>, then trains with a checkpoint, metrics.csv and TensorBoard
/// scalars after every epoch, and writes weights.bin, arch.json and run.json at the end.
/// Everything that can be wrong with the input fails in <see cref="Prepare"/>, before --out is touched.
/// </summary>
public sealed class TrainingRun : IDisposable
{
    public const string CheckpointFile = "checkpoint.pt";
    public const string WeightsFile = "weights.bin";
    public const string ArchFile = "arch.json";
    public const string RunFile = "run.json";
    public const string MetricsFile = "metrics.csv";

    public RunConfig Config { get; }
    public string OutDir { get; }
    public DataSource Source { get; }
    public ImageDataset TrainSet { get; }
    public ImageDataset? ValSet { get; }
    public Architecture Architecture { get; }
    public ArchAnalysis Analysis { get; }
    public Normalization Normalization { get; }
    public Augmentation Augmentation { get; }
    public Device Device { get; }
    public bool Resuming { get; }
    public Checkpoint.Header? ResumeHeader { get; }

    /// <summary>Per-step progress, per-epoch metrics, and phase messages ("evaluating on the test split").</summary>
    public Action<StepProgress>? StepEnd { get; set; }
    public Action<EpochMetrics>? EpochEnd { get; set; }
    public Action<string>? Phase { get; set; }
    /// <summary>Called once the trainer exists (before the first epoch): add loss terms and hooks here.</summary>
    public Action<Trainer>? Configure { get; set; }
    /// <summary>Evaluate on the test split at the end (default). Searches that train many candidates turn it off: they must not look at the test split, and it costs time.</summary>
    public bool EvaluateTest { get; set; } = true;

    ConvNet? _model;
    Trainer? _trainer;
    public Trainer? Trainer => _trainer;

    TrainingRun(RunConfig config, string outDir, DataSource source, ImageDataset train, ImageDataset? val, Architecture arch,
        ArchAnalysis analysis, Normalization norm, Augmentation aug, Device device, Checkpoint.Header? resume)
    {
        Config = config; OutDir = outDir; Source = source; TrainSet = train; ValSet = val; Architecture = arch; Analysis = analysis;
        Normalization = norm; Augmentation = aug; Device = device; Resuming = resume != null; ResumeHeader = resume;
    }

    /// <summary>Checks everything and loads the data; writes nothing except creating an empty --out folder.</summary>
    public static TrainingRun Prepare(RunConfig config, string outDir) => Prepare(config, outDir, null);

    /// <summary>
    /// Prepares the continuation of the run in <paramref name="runDir"/>: its configuration comes from the
    /// checkpoint; <paramref name="epochs"/> may extend it and <paramref name="threads"/> change the thread count
    /// (results are bit-identical only at the same thread count).
    /// </summary>
    public static TrainingRun PrepareResume(string runDir, int? epochs = null, int? threads = null)
    {
        string ck = Path.Combine(runDir, CheckpointFile);
        if (!Directory.Exists(runDir)) throw new TailorException($"--resume {runDir}: directory not found");
        var header = Checkpoint.ReadHeader(ck);
        var cfgNode = header.Meta?["config"] ?? throw new TailorException($"{ck}: the checkpoint holds no run configuration (not written by tailor train)");
        RunConfig cfg;
        try { cfg = cfgNode.Deserialize<RunConfig>(RunConfig.JsonOptions) ?? throw new InvalidDataException("empty"); }
        catch (Exception e) when (e is JsonException or InvalidDataException or NotSupportedException)
        { throw new TailorException($"{ck}: corrupt run configuration in the checkpoint ({e.Message.Split('\n')[0]})"); }
        if (epochs is int n) cfg = cfg with { Train = cfg.Train with { Epochs = n } };
        if (threads is int t) cfg = cfg with { Threads = t };
        if (header.Epoch >= cfg.Train.Epochs)
            throw new TailorException($"--resume {runDir}: the run is complete ({header.Epoch} of {cfg.Train.Epochs} epochs); pass --epochs N with N > {header.Epoch} to train longer");
        return Prepare(cfg, runDir, header);
    }

    static TrainingRun Prepare(RunConfig config, string outDir, Checkpoint.Header? resume)
    {
        config.Validate();
        var device = ResolveDevice(config.Device);
        var tc = config.Train;
        var source = Datasets.Open(config.Data);
        var full = config.Subset is int k ? Splits.Subset(source.Train, k, tc.Seed) : source.Train;
        var (train, val) = Splits.TrainVal(full, ValSplit.Parse(config.ValSplit), tc.Seed);
        if (train.Count < 1) throw new TailorException($"{config.Data}: no training images left");
        var arch = Retarget(config, source);
        var analysis = ArchAnalysis.Analyze(arch, config.Arch);
        var norm = Normalization.Of(train);
        var aug = config.Augment switch
        {
            "none" => Augmentation.None,
            "crop-flip" => Augmentation.CropFlip,
            _ => source.DefaultAugmentation,
        };
        PrepareOutDir(outDir, resume != null);
        return new TrainingRun(config, Path.GetFullPath(outDir), source, train, val, arch, analysis, norm, aug, device, resume);
    }

    /// <summary>The architecture re-targeted to the dataset's input and classes, then width-scaled.</summary>
    public static Architecture Retarget(RunConfig config, DataSource source)
    {
        var a = Zoo.Resolve(config.Arch);
        var shape = source.Shape;
        try
        {
            a = a.WithInput(shape).WithClasses(source.Classes);
            ArchAnalysis.Analyze(a, config.Arch);
            a = WidthScaling.Scale(a, config.Width);
        }
        catch (TailorException e)
        {
            throw new TailorException($"{config.Arch} cannot take {source.Kind}'s {shape} input: {e.Message}");
        }
        return a;
    }

    public static Device ResolveDevice(string spec)
    {
        if (spec == "cpu") return torch.CPU;
        if (spec == "cuda" || spec.StartsWith("cuda:", StringComparison.Ordinal))
        {
            bool available;
            try { available = torch.cuda.is_available(); } catch (Exception) { available = false; }
            if (!available)
                throw new TailorException($"--device {spec}: no CUDA backend is present (this build references TorchSharp-cpu; reference a CUDA TorchSharp package such as TorchSharp-cuda-linux to train on a GPU)");
            return torch.device(spec);
        }
        throw new TailorException($"--device '{spec}': expected cpu or cuda");
    }

    static void PrepareOutDir(string outDir, bool resume)
    {
        string full = Path.GetFullPath(outDir);
        if (File.Exists(full)) throw new TailorException($"--out {outDir}: exists and is not a directory");
        for (var up = Path.GetDirectoryName(full); up != null; up = Path.GetDirectoryName(up))
        {
            if (Directory.Exists(up)) break;
            if (File.Exists(up)) throw new TailorException($"--out {outDir}: cannot create the directory ({up} is a file, not a directory)");
        }
        if (!resume && File.Exists(Path.Combine(full, CheckpointFile)))
            throw new TailorException($"--out {outDir}: already holds a training run ({CheckpointFile}); continue it with --resume {outDir}, or choose another folder");
        bool created = !Directory.Exists(full);
        try { Directory.CreateDirectory(full); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        { throw new TailorException($"--out {outDir}: cannot create the directory ({e.Message.Split('\n')[0].Trim()})"); }
        string probe = Path.Combine(full, $".tailor-write-test-{Environment.ProcessId}");
        try
        {
            using (var fs = new FileStream(probe, FileMode.CreateNew, FileAccess.Write)) fs.WriteByte(0);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(probe); } catch { }
            if (created) try { Directory.Delete(full); } catch { }
            throw new TailorException($"--out {outDir}: not writable ({e.Message.Split('\n')[0].Trim()})");
        }
    }

    static string EventFileKey => "tensorboard_file";
    static string EventLengthKey => "tensorboard_length";

    /// <summary>Trains the remaining epochs and writes the outputs; returns the summary.</summary>
    public RunSummary Run(CancellationToken ct = default)
    {
        NativeTuning.TuneMalloc();
        var tc = Config.Train;
        int threads = Config.EffectiveThreads;
        torch.set_num_threads(threads);
        torch.manual_seed(tc.Seed);
        _model = new ConvNet(Architecture);
        if (Device.type != DeviceType.CPU) _model.to(Device);
        using var trainLoader = new DataLoader(TrainSet, tc.BatchSize, Normalization, shuffle: true, augment: Augmentation, dropLast: true);
        using var valLoader = ValSet != null ? new DataLoader(ValSet, Math.Max(tc.BatchSize, 256), Normalization) : null;
        _trainer = new Trainer(_model, tc, trainLoader, valLoader, device: Device);
        Configure?.Invoke(_trainer);

        string? eventFile = null; long? eventLength = null;
        var resumes = new JsonArray();
        if (ResumeHeader is { } h)
        {
            var meta = _trainer.LoadCheckpoint(Path.Combine(OutDir, CheckpointFile));
            eventFile = (string?)meta?[EventFileKey];
            eventLength = (long?)meta?[EventLengthKey];
            if (meta?["resumes"] is JsonArray prev) resumes = (JsonArray)prev.DeepClone();
            resumes.Add(new JsonObject { ["at_epoch"] = h.Epoch, ["time"] = DateTimeOffset.Now.ToString("o"), ["threads"] = threads });
        }
        eventFile ??= EventFileWriter.NewFileName();
        string startedAt = DateTimeOffset.Now.ToString("o");
        WriteText(Path.Combine(OutDir, ArchFile), ArchJson.Write(Architecture));
        WriteRunJson(threads, startedAt, "running", resumes, null);

        using var events = new EventFileWriter(Path.Combine(OutDir, eventFile), eventLength);
        if (eventLength is long len && events.Length < len)
        {
            // The event file was lost or cut: rewrite the epochs the checkpoint knows.
            foreach (var m in _trainer.State.History) WriteEpochEvents(events, m, (long)m.Epoch * trainLoader.BatchCount);
            events.Flush();
        }
        var trainer = _trainer;
        trainer.StepEnd = p =>
        {
            if (p.Step % 10 == 0 || p.StepInEpoch == p.StepsPerEpoch)
            {
                events.AddScalars(new[] { ("train/step_loss", p.Loss), ("train/lr", p.Lr) }, p.Step);
            }
            StepEnd?.Invoke(p);
        };
        trainer.Fit(m =>
        {
            WriteEpochEvents(events, m, trainer.State.Step);
            events.Flush();
            var meta = new JsonObject
            {
                ["config"] = JsonSerializer.SerializeToNode(Config, RunConfig.JsonOptions),
                [EventFileKey] = eventFile,
                [EventLengthKey] = events.Length,
                ["resumes"] = resumes.DeepClone(),
            };
            trainer.SaveCheckpoint(Path.Combine(OutDir, CheckpointFile), meta);
            MetricsCsv.Write(Path.Combine(OutDir, MetricsFile), trainer.State.History);
            EpochEnd?.Invoke(m);
        }, ct);

        EvalResult? test = null;
        if (Source.Test != null && EvaluateTest)
        {
            Phase?.Invoke($"evaluating on the test split ({Source.Test.Count} images)");
            using var testLoader = new DataLoader(Source.Test, Math.Max(tc.BatchSize, 256), Normalization);
            test = Trainer.Evaluate(_model, testLoader, Device);
            events.AddScalars(new[] { ("test/loss", test.Loss), ("test/acc", test.Accuracy) }, trainer.State.Step);
            events.Flush();
        }
        Weights.Save(_model, Path.Combine(OutDir, WeightsFile));
        var hist = trainer.State.History;
        double trainSeconds = hist.Sum(m => m.ImagesPerSecond > 0 ? trainLoader.ImagesPerEpoch / m.ImagesPerSecond : 0);
        var summary = new RunSummary(OutDir, Architecture.Name, Analysis.Params, Analysis.Macs, Architecture.Input.ToString(), Architecture.Classes,
            Config.Data, TrainSet.Count, ValSet?.Count ?? 0, Source.Test?.Count ?? 0, hist.Count, hist.LastOrDefault(),
            hist.Where(m => m.ValAcc != null).Select(m => m.ValAcc).DefaultIfEmpty(null).Max(),
            test?.Loss, test?.Accuracy, trainSeconds,
            trainSeconds > 0 ? (double)trainLoader.ImagesPerEpoch * hist.Count / trainSeconds : 0,
            Device.ToString(), threads, tc.Seed);
        WriteRunJson(threads, startedAt, "done", resumes, summary);
        return summary;
    }

    static void WriteEpochEvents(EventFileWriter events, EpochMetrics m, long step)
    {
        var list = new List<(string, double)> { ("train/loss", m.TrainLoss), ("train/acc", m.TrainAcc), ("lr", m.Lr), ("images_per_s", m.ImagesPerSecond) };
        if (m.ValLoss is double vl) list.Add(("val/loss", vl));
        if (m.ValAcc is double va) list.Add(("val/acc", va));
        events.AddScalars(list, step);
    }

    void WriteRunJson(int threads, string startedAt, string status, JsonArray resumes, RunSummary? summary)
    {
        var o = new JsonObject
        {
            ["format"] = "tailor-run",
            ["status"] = status,
            ["started"] = startedAt,
            ["updated"] = DateTimeOffset.Now.ToString("o"),
            ["seed"] = Config.Train.Seed,
            ["config"] = JsonSerializer.SerializeToNode(Config, RunConfig.JsonOptions),
            ["versions"] = Versions(),
            ["machine"] = new JsonObject
            {
                ["os"] = RuntimeInformation.OSDescription,
                ["arch"] = RuntimeInformation.OSArchitecture.ToString(),
                ["cpu"] = CpuModel(),
                ["cores"] = Environment.ProcessorCount,
                ["threads"] = threads,
                ["omp_wait_policy"] = ThreadTuning.Describe(),
                ["device"] = Device.ToString(),
                ["malloc_tuned"] = OperatingSystem.IsLinux(),
            },
            ["data"] = new JsonObject
            {
                ["spec"] = Config.Data,
                ["kind"] = Source.Kind,
                ["directory"] = Source.Directory,
                ["train_images"] = TrainSet.Count,
                ["val_images"] = ValSet?.Count ?? 0,
                ["test_images"] = Source.Test?.Count ?? 0,
                ["augmentation"] = Augmentation == Augmentation.CropFlip ? "crop-flip" : "none",
                ["normalization"] = new JsonObject
                {
                    ["mean"] = new JsonArray(Normalization.Mean.Select(v => (JsonNode)v).ToArray()),
                    ["std"] = new JsonArray(Normalization.Std.Select(v => (JsonNode)v).ToArray()),
                },
            },
            ["arch"] = new JsonObject
            {
                ["name"] = Architecture.Name,
                ["input"] = Architecture.Input.ToString(),
                ["classes"] = Architecture.Classes,
                ["params"] = Analysis.Params,
                ["macs"] = Analysis.Macs,
            },
            ["resumes"] = resumes.DeepClone(),
            ["summary"] = summary == null ? null : JsonSerializer.SerializeToNode(summary, RunConfig.JsonOptions),
        };
        WriteText(Path.Combine(OutDir, RunFile), o.ToJsonString(RunConfig.JsonOptions) + "\n");
    }

    /// <summary>UTF-8 text, atomically (through bytes: see the note on <see cref="MetricsCsv.WriteText"/>).</summary>
    static void WriteText(string path, string text) => MetricsCsv.WriteText(path, text);

    public static JsonObject Versions() => new()
    {
        ["tailor"] = typeof(TrainingRun).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0]
                     ?? typeof(TrainingRun).Assembly.GetName().Version?.ToString(),
        ["torchsharp"] = typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0]
                         ?? typeof(torch).Assembly.GetName().Version?.ToString(),
        ["libtorch"] = LibTorchVersion(),
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
    };

    /// <summary>libtorch's version, read from the native package next to TorchSharp (the managed API reports its own).</summary>
    public static string LibTorchVersion()
    {
        try
        {
            var v = torch.__version__;
            if (!string.IsNullOrEmpty(v)) return v;
        }
        catch (Exception) { }
        return "unknown";
    }

    public static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal))
                        return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    public void Dispose()
    {
        _model?.Dispose();
        (_trainer?.Optimizer as IDisposable)?.Dispose();
    }
}
