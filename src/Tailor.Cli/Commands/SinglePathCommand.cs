using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Hardware.Latency;
using Tailor.Hardware.Lut;
using Tailor.Hardware.Onnx;
using Tailor.Models;
using Tailor.Models.SinglePath;
using Tailor.Search.SinglePath;
using Tailor.Training;
using Tailor.Util;
using Google.Protobuf;

namespace Tailor.Cli.Commands;

/// <summary>`tailor search single-path`: search, final training from scratch, ONNX export, measurement.</summary>
public static class SinglePathCommand
{
    public static Command Create()
    {
        var space = new Option<string>("--space") { Description = "Search space: spnas-fmnist (1x28x28), spnas-cifar (3x32x32) or spnas-imagenet (3x224x224)", DefaultValueFactory = _ => "spnas-fmnist" };
        var data = new Option<string?>("--data") { Description = $"Dataset ({Datasets.SpecHelp}); default: fashion-mnist for spnas-fmnist, cifar10 for spnas-cifar" };
        var target = new Option<string>("--target") { Description = "Latency target device: ort-cpu[:threads=N] (ONNX Runtime CPU) or torch-cpu[:threads=N]", DefaultValueFactory = _ => "ort-cpu" };
        var latency = new Option<double?>("--latency-ms") { Description = "Latency target in ms: lambda is found automatically (dual ascent; docs/single-path.md)" };
        var fraction = new Option<double?>("--latency-fraction") { Description = "Latency target as a point of the table's reachable range: min + F*(max - min), 0 < F < 1 (convenient for demos and scripts)" };
        var lambda = new Option<double?>("--lambda") { Description = "Fixed lambda (the paper's mode, no target); default 0.02 when --latency-ms is not given" };
        var epochs = new Option<int>("--epochs") { Description = "Search epochs (phase 1 = 5/8 of them)", DefaultValueFactory = _ => 4 };
        var trainEpochs = new Option<int>("--train-epochs") { Description = "Epochs of the final training from scratch (0 = search only)", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch") { Description = "Batch size (search and final training)", DefaultValueFactory = _ => 128 };
        var lr = new Option<double>("--lr") { Description = "Search learning rate per 256 images (linear scaling with the batch)", DefaultValueFactory = _ => 0.016 };
        var optimizer = new Option<string>("--optimizer") { Description = "Search optimizer: rmsprop-tf (the paper's TF1 RMSProp), sgd, adam", DefaultValueFactory = _ => "rmsprop-tf" };
        var subset = new Option<int?>("--subset") { Description = "Use only this many training images (stratified; search and final training)" };
        var seed = new Option<int>("--seed") { Description = "Seed (weights, data order, dropout, splits)", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Torch threads for training (default: all cores)", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Output folder", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue an interrupted run in --out from its last checkpoint (same result as uninterrupted)" };
        var lutPath = new Option<string?>("--lut") { Description = "Use this latency table (tailor lut build) instead of measuring one into --out/lut.json" };
        var width = new Option<double>("--width") { Description = "Width multiplier of the space", DefaultValueFactory = _ => 1.0 };
        var layers = new Option<int?>("--layers-per-stage") { Description = "Searchable layers per stage (default 2 on small inputs, 4 on ImageNet)" };
        var kernels = new Option<string>("--kernels") { Description = "Candidate depthwise kernels, e.g. 3,5 or 3,5,7", DefaultValueFactory = _ => "3,5" };
        var expansions = new Option<string>("--expansions") { Description = "Candidate expansion ratios, e.g. 3,6", DefaultValueFactory = _ => "3,6" };
        var searchSe = new Option<bool>("--search-se") { Description = "Also search squeeze-and-excitation on/off per layer" };
        var norm = new Option<string>("--norm") { Description = "Group norm: rms (norm/sqrt(size), makes decisions happen at small scale) or raw (the paper)", DefaultValueFactory = _ => "rms" };
        var faithful = new Option<bool>("--faithful") { Description = "The paper's formulation: raw norms, no exact masking (docs/single-path.md)" };
        var formula = new Option<string?>("--formula") { Description = "Runtime model: paper (k{3,5} x e{3,6} only) or exact; default: paper where it applies" };
        var eta = new Option<double>("--eta") { Description = "Step of the lambda controller", DefaultValueFactory = _ => 0.01 };
        var maxError = new Option<double>("--max-error") { Description = "Latency measurement: accepted relative standard error of the median (raise it on a busy machine)", DefaultValueFactory = _ => MeasureOptions.Default.MaxError };
        var settle = FinalStage.SettleOption();
        var json = Cli.JsonOption();
        var c = new Command("single-path",
            "Single-Path NAS (Stamoulis et al. 2019): one superkernel supernet, differentiable runtime from a latency table measured on --target, " +
            "then the decoded network trained from scratch, exported to ONNX and measured. Writes arch.json, search.csv, search.png, decisions.png, " +
            "lut.json, train/, model.onnx and summary.json into --out.\n" +
            "Example: tailor search single-path --space spnas-fmnist --data fashion-mnist --target ort-cpu --latency-ms 1.5 --epochs 4 --out runs/spnas")
        {
            space, data, target, latency, fraction, lambda, epochs, trainEpochs, batch, lr, optimizer, subset, seed, threads, output, resume, lutPath,
            width, layers, kernels, expansions, searchSe, norm, faithful, formula, eta, maxError, settle, json,
        };
        c.SetAction(r => Cli.Run(() =>
        {
            bool asJson = r.GetValue(json);
            var console = asJson ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }) : AnsiConsole.Console;
            int[] Ints(Option<string> o) => Cli.IntList(r.GetValue(o)!, o.Name);
            string spaceName = r.GetValue(space)!;
            var spOpts = new SpnasOptions { Width = r.GetValue(width), LayersPerStage = r.GetValue(layers), Kernels = Ints(kernels), Expansions = Ints(expansions), SearchSe = r.GetValue(searchSe) };
            var (sp, dataSpec, source) = SearchSetup.SpaceAndData(spaceName, spOpts, r.GetValue(data), "single-path search needs");
            string normS = r.GetValue(norm)!;
            if (normS is not ("rms" or "raw")) throw new TailorException($"--norm: expected rms or raw (got '{normS}')");
            bool faith = r.GetValue(faithful);
            string? formulaS = r.GetValue(formula);
            var cfg = new SinglePathConfig
            {
                TargetMs = r.GetValue(latency), Lambda = r.GetValue(lambda) ?? 0.02, Epochs = r.GetValue(epochs), BatchSize = r.GetValue(batch),
                LrPer256 = r.GetValue(lr), Optimizer = r.GetValue(optimizer)!, Seed = r.GetValue(seed), ControllerEta = r.GetValue(eta),
                Norm = faith || normS == "raw" ? NormMode.Raw : NormMode.Rms, ExactMasking = !faith,
                Formula = formulaS switch { null => null, "paper" => RuntimeFormula.Paper, "exact" => RuntimeFormula.Exact, _ => throw new TailorException($"--formula: expected paper or exact (got '{formulaS}')") },
            };
            if (r.GetValue(latency) is double lt && r.GetValue(lambda) is not null) throw new TailorException("--latency-ms and --lambda exclude each other: a target finds lambda itself");
            if (r.GetValue(latency) is double lt2) OptionCheck.Positive("--latency-ms", lt2);
            var tgt = LatencyTargets.Parse(r.GetValue(target)!);
            var measure = MeasureOptions.Default with { MaxError = r.GetValue(maxError) };
            measure.Validate();
            string outDir = Path.GetFullPath(r.GetValue(output)!);
            bool resuming = r.GetValue(resume);
            PrepareOut(outDir, resuming);
            int nThreads = r.GetValue(threads) > 0 ? r.GetValue(threads) : Environment.ProcessorCount;
            TorchSharp.torch.set_num_threads(nThreads);

            // 1. latency table on the target
            var lut = SearchSetup.LoadOrBuildLut(console, r.GetValue(lutPath), outDir, sp, tgt, measure);
            var table = new LayerLatencies(sp, lut.FixedMs, lut.Entry);
            if (r.GetValue(fraction) is double f)
            {
                if (cfg.TargetMs != null || r.GetValue(lambda) != null) throw new TailorException("--latency-fraction excludes --latency-ms and --lambda");
                if (!(f > 0 && f < 1)) throw new TailorException($"--latency-fraction must be in (0, 1) (got {f})");
                var (mn, mx) = table.Range();
                cfg = cfg with { TargetMs = mn + f * (mx - mn) };
            }
            var search = new SinglePathSearch(sp, table, cfg); // checks the target against the reachable range

            // 2. data: the same subset and train split the final training uses
            var full = r.GetValue(subset) is int k ? Splits.Subset(source.Train, k, cfg.Seed) : source.Train;
            var (trainSet, _) = Splits.TrainVal(full, ValSplit.Parse("0.1"), cfg.Seed);
            var norm0 = Normalization.Of(trainSet);
            using var loader = new Tailor.Data.DataLoader(trainSet, cfg.BatchSize, norm0, shuffle: true, augment: source.DefaultAugmentation, dropLast: true) { ChannelsLast = true };
            var (lo, hi) = table.Range();
            console.MarkupLine($"[bold]search[/] {spaceName}: {sp.LayerCount} searchable layers, {sp.Size:G3} networks; table range {lo:F3} .. {hi:F3} ms; " +
                               (cfg.TargetMs is double tt ? $"target {tt:F3} ms" : $"lambda {cfg.Lambda}") + $"; {trainSet.Count:N0} images, {cfg.Epochs} epochs x {loader.BatchCount} steps");

            // 3. search (skipped when a finished result is on disk)
            string resultFile = Path.Combine(outDir, "search-result.json");
            SinglePathResult res;
            if (resuming && File.Exists(resultFile)) res = ReadResult(resultFile, sp);
            else
            {
                res = WithProgress(console, $"search", (long)loader.BatchCount * cfg.Epochs, report =>
                    search.Run(loader, outDir, resuming, (s, n, ce, rr, lam) => report(s, $"CE {ce:F3}  R {rr:F3} ms  lambda {lam:G3}")));
                ArchJson.Save(res.Arch, Path.Combine(outDir, "arch.json"));
                WriteResult(resultFile, res);
            }
            string csv = Path.Combine(outDir, SinglePathSearch.CsvFile);
            SearchPlots.Progress(csv, Path.Combine(outDir, "search.png"), cfg.TargetMs);
            SearchPlots.Decisions(csv, Path.Combine(outDir, "decisions.png"), sp.Choices(1).Select(ch => ch.Name).ToList());

            // 4-5. final training from scratch, ONNX export, measurement (shared with random-train)
            int te = r.GetValue(trainEpochs);
            var final = FinalStage.Run(console, outDir, res.Arch, dataSpec, r.GetValue(subset), nThreads, te, cfg.BatchSize, cfg.Seed, resuming, tgt, measure, r.GetValue(settle));
            var (trained, measured, an, _) = final;
            {
                var summary = new JsonObject
                {
                    ["arch"] = string.Join(" ", res.Names),
                    ["target_ms"] = cfg.TargetMs,
                    ["lambda"] = res.Lambda,
                    ["predicted_ms"] = res.PredictedMs,
                    ["lut_error"] = cfg.TargetMs is double t1 ? res.PredictedMs / t1 - 1 : null,
                    ["measured_error"] = cfg.TargetMs is double t2 ? measured.MedianMs / t2 - 1 : null,
                    ["test_acc"] = trained?.TestAcc,
                    ["val_acc"] = trained?.BestValAcc,
                    ["params"] = an.Params,
                    ["macs"] = an.Macs,
                    ["search_seconds"] = res.Seconds,
                    ["search_cpu_seconds"] = double.IsFinite(res.CpuSeconds) ? res.CpuSeconds : null,
                    ["search_compute_seconds"] = double.IsFinite(res.CpuSeconds) ? res.CpuSeconds / nThreads : null,
                    ["train_seconds"] = trained?.TrainSeconds,
                    ["search_steps"] = res.Steps,
                    ["projection_flips"] = new JsonArray(res.Flips.Select(f => (JsonNode)new JsonObject { ["layer"] = f.Layer, ["from"] = f.From, ["to"] = f.To, ["margin"] = f.Margin, ["ms"] = f.Ms }).ToArray()),
                    ["space"] = spaceName, ["space_config"] = JsonSerializer.SerializeToNode(sp.Config),
                    ["data"] = dataSpec, ["target"] = tgt.Spec, ["runtime"] = tgt.Runtime, ["threads"] = nThreads, ["seed"] = cfg.Seed,
                    ["config"] = JsonSerializer.SerializeToNode(cfg, new JsonSerializerOptions { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } }),
                    ["versions"] = TrainingRun.Versions(), ["machine"] = MachineInfo.Current.ToString(), ["device"] = "cpu",
                };
                final.InsertMeasured(summary, "predicted_ms");
                AtomicFile.WriteAllText(Path.Combine(outDir, "summary.json"), summary.ToJsonString(Cli.JsonOptions) + "\n");
                if (asJson) { Console.Out.WriteLine(summary.ToJsonString(Cli.JsonOptions)); return 0; }
                var t = new Table().Title("Single-Path NAS").AddColumns("", "");
                t.AddRow("architecture", Cli.Escape(string.Join(" ", res.Names)));
                t.AddRow("latency (table)", $"{res.PredictedMs:F3} ms" + (cfg.TargetMs is double t3 ? $"  (target {t3:F3} ms, {100 * (res.PredictedMs / t3 - 1):+0.0;-0.0}%)" : ""));
                t.AddRow("latency (measured)", $"{measured.MedianMs:F3} ms (IQR {measured.IqrMs:F3}) on {Cli.Escape(tgt.Spec)}" + (cfg.TargetMs is double t4 ? $"  ({100 * (measured.MedianMs / t4 - 1):+0.0;-0.0}%)" : ""));
                t.AddRow("lambda", res.Lambda.ToString("G4", CultureInfo.InvariantCulture) + (res.Flips.Count > 0 ? $"  ({res.Flips.Count} projection flips)" : ""));
                t.AddRow("test accuracy", trained?.TestAcc is double ta ? $"{100 * ta:F2}% after {te} epochs from scratch" : "-");
                t.AddRow("params / MACs", $"{an.Params:N0} / {Cli.Human(an.Macs)}");
                t.AddRow("search / train", $"{res.Seconds:F0} s / {trained?.TrainSeconds ?? 0:F0} s");
                t.AddRow("output", Cli.Escape(outDir));
                console.Write(t);
                return 0;
            }
        }));
        return c;
    }

    static void PrepareOut(string outDir, bool resuming)
    {
        try { Directory.CreateDirectory(outDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new TailorException($"--out {outDir}: cannot create the directory ({e.Message.Split('\n')[0].Trim()})"); }
        if (!resuming && File.Exists(Path.Combine(outDir, SinglePathSearch.CheckpointFile)))
            throw new TailorException($"--out {outDir}: holds an earlier search; continue it with --resume or choose another folder");
        string probe = Path.Combine(outDir, $".probe-{Environment.ProcessId}");
        try { File.WriteAllText(probe, ""); File.Delete(probe); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new TailorException($"--out {outDir}: not writable ({e.Message.Split('\n')[0].Trim()})"); }
    }

    internal static T WithProgress<T>(IAnsiConsole console, string what, long total, Func<Action<long, string>, T> body) =>
        WithProgress(console, what, total, (report, _) => body(report));

    /// <summary>Progress with ETA; the body may revise the total (<c>setTotal</c>) when its end moves (e.g. a compute budget).</summary>
    internal static T WithProgress<T>(IAnsiConsole console, string what, long total, Func<Action<long, string>, Action<long>, T> body)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            long lastDecile = -1;
            return body((s, msg) =>
            {
                long d = s * 10 / Math.Max(1, total);
                if (d != lastDecile) { lastDecile = d; console.WriteLine($"{what} step {s}/{total}  {msg}"); }
            }, t => total = Math.Max(1, t));
        }
        T result = default!;
        console.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(what, maxValue: total);
                result = body((s, msg) => { task.Value = s; task.Description = $"{what}  {Cli.Escape(msg)}"; }, t => task.MaxValue = Math.Max(1, t));
            });
        return result;
    }

    static void WriteResult(string path, SinglePathResult r)
    {
        var o = new JsonObject
        {
            ["choices"] = new JsonArray(r.Choices.Select(c => (JsonNode)c).ToArray()),
            ["predicted_ms"] = r.PredictedMs, ["lambda"] = r.Lambda, ["seconds"] = r.Seconds, ["cpu_seconds"] = double.IsFinite(r.CpuSeconds) ? r.CpuSeconds : null, ["steps"] = r.Steps, ["final_ce"] = r.FinalCe,
            ["flips"] = new JsonArray(r.Flips.Select(f => (JsonNode)new JsonObject { ["layer"] = f.Layer, ["from"] = f.From, ["to"] = f.To, ["margin"] = f.Margin, ["ms"] = f.Ms }).ToArray()),
        };
        AtomicFile.WriteAllText(path, o.ToJsonString(Cli.JsonOptions) + "\n");
    }

    static SinglePathResult ReadResult(string path, LayeredSpace sp)
    {
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            var choices = o["choices"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
            var flips = o["flips"]!.AsArray().Select(n => new LatencyProjection.Flip(n!["layer"]!.GetValue<int>(), n["from"]!.GetValue<string>(), n["to"]!.GetValue<string>(), n["margin"]!.GetValue<double>(), n["ms"]!.GetValue<double>())).ToList();
            return new SinglePathResult(sp.Build(choices), choices, choices.Select((c, l) => sp.Choices(l)[c].Name).ToArray(), o["predicted_ms"]!.GetValue<double>(),
                o["lambda"]!.GetValue<double>(), flips, o["seconds"]!.GetValue<double>(), o["steps"]!.GetValue<long>(), o["final_ce"]!.GetValue<double>())
                { CpuSeconds = (double?)o["cpu_seconds"] ?? double.NaN };
        }
        catch (Exception e) when (e is not TailorException)
        { throw new TailorException($"{path}: corrupt search result ({e.Message.Split('\n')[0]}); delete it to redo the search from its checkpoint"); }
    }
}
