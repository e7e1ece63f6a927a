using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Tailor.Arch;
using Tailor.Hardware;
using Tailor.Hardware.Latency;
using Tailor.Hardware.Lut;
using Tailor.Hardware.Onnx;
using Tailor.Hardware.Predictors;
using Tailor.Hardware.Reports;
using Tailor.Models;
using Tailor.Util;
using static TorchSharp.torch;

namespace Tailor.Cli.Commands;

/// <summary>`tailor export onnx`, `tailor latency measure|fit`, `tailor lut build|check`.</summary>
public static class HardwareCommands
{
    public static Command Export()
    {
        var cmd = new Command("export", "Export networks for deployment");
        cmd.Subcommands.Add(ExportOnnx());
        return cmd;
    }

    public static Command Latency()
    {
        var cmd = new Command("latency", "Measure latency on a target, or fit a latency predictor to measured data");
        cmd.Subcommands.Add(Measure());
        cmd.Subcommands.Add(Fit());
        cmd.Subcommands.Add(FitWidth());
        return cmd;
    }

    public static Command Lut()
    {
        var cmd = new Command("lut", "Per-layer latency tables (LUTs) of a search space on a target");
        cmd.Subcommands.Add(LutBuild());
        cmd.Subcommands.Add(LutCheckCmd());
        return cmd;
    }

    static Option<string> ArchOption() => new("--arch") { Description = "Architecture: a JSON file, or zoo:NAME", Required = true };
    static Option<string> TargetOption() => new("--target") { Description = "Target: ort-cpu[:threads=N] or torch-cpu[:threads=N]", DefaultValueFactory = _ => "ort-cpu" };

    sealed class MeasureOpts
    {
        public readonly Option<int> Warmup = new("--warmup") { Description = "Untimed runs first", DefaultValueFactory = _ => MeasureOptions.Default.Warmup };
        public readonly Option<int> Runs = new("--runs") { Description = "Timed runs per round (more for very fast models: rounds last at least 20 ms)", DefaultValueFactory = _ => MeasureOptions.Default.RunsPerRound };
        public readonly Option<int> MinRounds = new("--min-rounds") { Description = "Rounds before the spread is judged", DefaultValueFactory = _ => MeasureOptions.Default.MinRounds };
        public readonly Option<int> MaxRounds = new("--max-rounds") { Description = "Give up after this many rounds", DefaultValueFactory = _ => MeasureOptions.Default.MaxRounds };
        public readonly Option<double> MaxError = new("--max-error") { Description = "Accepted relative standard error of the median (0.02 = 2%); more rounds until then", DefaultValueFactory = _ => MeasureOptions.Default.MaxError };

        public void AddTo(Command c) { c.Options.Add(Warmup); c.Options.Add(Runs); c.Options.Add(MinRounds); c.Options.Add(MaxRounds); c.Options.Add(MaxError); }

        public MeasureOptions Get(ParseResult r)
        {
            var o = new MeasureOptions
            {
                Warmup = r.GetValue(Warmup), RunsPerRound = r.GetValue(Runs), MinRounds = r.GetValue(MinRounds),
                MaxRounds = r.GetValue(MaxRounds), MaxError = r.GetValue(MaxError),
            };
            o.Validate();
            return o;
        }
    }

    static Command ExportOnnx()
    {
        var arch = ArchOption(); var input = Cli.InputOption(); var classes = Cli.ClassesOption();
        var weights = new Option<string?>("--weights") { Description = "TorchSharp weights of the network (default: fresh random weights, seeded)" };
        var output = new Option<string>("--out") { Description = "Where to write the .onnx file", Required = true };
        var opset = new Option<int>("--opset") { Description = $"ONNX opset ({OnnxExport.MinOpset}..{OnnxExport.MaxOpset})", DefaultValueFactory = _ => OnnxExport.DefaultOpset };
        var batch = new Option<int?>("--batch") { Description = "Fix the batch dimension (default: symbolic N)" };
        var seed = new Option<int>("--seed") { Description = "Seed of the random weights when --weights is not given", DefaultValueFactory = _ => 0 };
        var json = Cli.JsonOption();
        var c = new Command("onnx", "Export an architecture with its TorchSharp weights to ONNX (inference: BN folded into convs)")
            { arch, input, classes, weights, output, opset, batch, seed, json };
        c.SetAction(r => Cli.Run(() =>
        {
            var a = Cli.ResolveArch(r.GetValue(arch)!, r.GetValue(input), r.GetValue(classes));
            var o = new OnnxExportOptions { Opset = r.GetValue(opset), DynamicBatch = r.GetValue(batch) == null, Batch = r.GetValue(batch) ?? 1 };
            if (o.Opset < OnnxExport.MinOpset || o.Opset > OnnxExport.MaxOpset)
                throw new TailorException($"--opset {o.Opset}: not supported; Tailor exports opsets {OnnxExport.MinOpset}..{OnnxExport.MaxOpset}");
            OnnxExport.CheckSupported(a);
            using var scope = NewDisposeScope();
            manual_seed(r.GetValue(seed));
            using var net = new ConvNet(a);
            if (r.GetValue(weights) is { } w) Weights.Load(net, w);
            net.eval();
            var model = OnnxExport.FromConvNet(net, o);
            string path = r.GetValue(output)!;
            OnnxExport.Save(model, path);
            if (r.GetValue(json))
            {
                var an = ArchAnalysis.Analyze(a);
                Cli.PrintJson(new Dictionary<string, object?>
                {
                    ["path"] = path, ["arch"] = a.Name, ["input"] = a.Input.ToString(), ["classes"] = a.Classes, ["opset"] = o.Opset,
                    ["batch"] = o.DynamicBatch ? null : o.Batch, ["nodes"] = model.Graph.Node.Count, ["bytes"] = new FileInfo(path).Length,
                    ["params"] = an.Params, ["macs"] = an.Macs, ["weights"] = r.GetValue(weights),
                });
            }
            else Console.WriteLine($"wrote {path}: {a.Name} @ {a.Input}, {a.Classes} classes, opset {o.Opset}, {model.Graph.Node.Count} nodes, {new FileInfo(path).Length / 1e6:F2} MB");
            return 0;
        }));
        return c;
    }

    static Command Measure()
    {
        var arch = new Option<string?>("--arch") { Description = "Architecture: a JSON file, or zoo:NAME (or give --onnx)" };
        var onnx = new Option<string?>("--onnx") { Description = "Measure this ONNX file instead (any model with one float input and one output; its free batch dimension is set to --batch; ort-cpu targets only)" };
        var target = TargetOption(); var input = Cli.InputOption(); var classes = Cli.ClassesOption(); var json = Cli.JsonOption();
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random weights", DefaultValueFactory = _ => 0 };
        var mo = new MeasureOpts();
        var c = new Command("measure", "Measure the inference latency of an architecture, or of an ONNX file, on a target (median of round medians, IQR, CV)")
            { arch, onnx, target, input, classes, batch, seed, json };
        mo.AddTo(c);
        c.SetAction(r => Cli.Run(() =>
        {
            string? archSpec = r.GetValue(arch), onnxPath = r.GetValue(onnx);
            if ((archSpec == null) == (onnxPath == null)) throw new TailorException("give either --arch (an architecture) or --onnx (an ONNX file)");
            int b = r.GetValue(batch);
            OptionCheck.AtLeast("--batch", b, 1);
            var t = LatencyTargets.Parse(r.GetValue(target)!);
            ArchLatency res;
            string what;
            if (onnxPath != null)
            {
                if (r.GetValue(input) != null || r.GetValue(classes) != null) throw new TailorException("--onnx: the file fixes the input and classes; drop --input and --classes");
                if (t is not OrtCpuTarget ort) throw new TailorException($"--onnx: ONNX files are measured on ort-cpu targets (got {t.Spec})");
                res = ArchLatencies.MeasureOnnxFile(ort, onnxPath, b, mo.Get(r));
                what = $"{res.Arch} @ {res.Input}";
            }
            else
            {
                var a = Cli.ResolveArch(archSpec!, r.GetValue(input), r.GetValue(classes));
                res = ArchLatencies.Measure(t, a, b, mo.Get(r), r.GetValue(seed));
                what = $"{a.Name} @ {a.Input}";
            }
            if (r.GetValue(json)) { Cli.PrintJson(res); return 0; }
            Console.WriteLine($"{what} batch {b} on {t.Spec} ({t.Runtime}): median {res.MedianMs:F3} ms, IQR {res.IqrMs:F3} ms, " +
                              $"CV {res.Cv * 100:F1}%, {res.Runs} runs in {res.Rounds} rounds (round-median CV {res.RoundsCv * 100:F1}%, error {res.Error * 100:F2}%)");
            Console.WriteLine($"machine: {res.Machine}; load average {res.LoadAvg?.ToString("F2", CultureInfo.InvariantCulture) ?? "n/a"}");
            return 0;
        }));
        return c;
    }

    static Command FitWidth()
    {
        var arch = ArchOption(); var target = TargetOption(); var input = Cli.InputOption(); var classes = Cli.ClassesOption(); var json = Cli.JsonOption();
        var latency = new Option<double>("--latency-ms") { Description = "The latency budget (ms) the scaled network should meet", Required = true };
        var minW = new Option<double>("--min-width") { Description = "Smallest width multiplier tried", DefaultValueFactory = _ => 0.1 };
        var maxW = new Option<double>("--max-width") { Description = "Largest width multiplier tried", DefaultValueFactory = _ => 2.0 };
        var output = new Option<string?>("--out") { Description = "Write the scaled architecture (IR JSON) here" };
        var mo = new MeasureOpts();
        var c = new Command("fit-width",
            $"Scale a network by its width multiplier (multiples of {WidthFit.Step}, channels rounded to 8) until its measured latency on --target matches --latency-ms: " +
            "the hand-designed baseline at a search's budget. Bisection on measured latency, then the two bracketing widths measured side by side.\n" +
            "Example: tailor latency fit-width --arch zoo:mobilenet_v2_cifar --input 1x28x28 --classes 10 --latency-ms 0.4 --out mbv2.json")
            { arch, target, input, classes, latency, minW, maxW, output, json };
        mo.AddTo(c);
        c.SetAction(r => Cli.Run(() =>
        {
            var a = Cli.ResolveArch(r.GetValue(arch)!, r.GetValue(input), r.GetValue(classes));
            var t = LatencyTargets.Parse(r.GetValue(target)!);
            bool asJson = r.GetValue(json);
            string? outPath = r.GetValue(output);
            var res = WidthFit.Fit(t, a, r.GetValue(latency), r.GetValue(minW), r.GetValue(maxW), mo.Get(r), asJson ? null : m => Console.Error.WriteLine("  " + m));
            if (outPath != null) ArchJson.Save(res.Arch, outPath);
            var an = ArchAnalysis.Analyze(res.Arch);
            var o = new System.Text.Json.Nodes.JsonObject
            {
                ["width"] = res.Width, ["target_ms"] = res.TargetMs, ["measured_ms"] = res.Latency.MedianMs, ["measured_iqr_ms"] = res.Latency.IqrMs,
                ["error"] = res.Error, ["arch"] = res.Arch.Name, ["params"] = an.Params, ["macs"] = an.Macs, ["out"] = outPath,
                ["probes"] = new System.Text.Json.Nodes.JsonArray(res.Probes.Select(p => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
                    { ["width"] = p.Width, ["median_ms"] = p.MedianMs, ["params"] = p.Params, ["macs"] = p.Macs }).ToArray()),
                ["latency"] = System.Text.Json.JsonSerializer.SerializeToNode(res.Latency),
            };
            if (asJson) { Console.WriteLine(o.ToJsonString(Cli.JsonOptions)); return 0; }
            Console.WriteLine($"{a.Name} at width {res.Width:0.00}: {res.Latency.MedianMs:F3} ms on {t.Spec} (target {res.TargetMs:F3} ms, {100 * res.Error:+0.0;-0.0}%), " +
                              $"{an.Params:N0} params, {Cli.Human(an.Macs)} MACs" + (outPath != null ? $"; written to {outPath}" : ""));
            return 0;
        }));
        return c;
    }

    static Command LutBuild()
    {
        var space = new Option<string>("--space") { Description = $"Search space: {string.Join(", ", Spaces.Names)}", Required = true };
        var target = TargetOption(); var input = Cli.InputOption(); var classes = Cli.ClassesOption();
        var output = new Option<string>("--out") { Description = "Where to write the table (JSON)", Required = true };
        var width = new Option<double?>("--width") { Description = "Width multiplier (spnas-* spaces)" };
        var lps = new Option<int?>("--layers-per-stage") { Description = "Searchable layers per stage (spnas-* spaces)" };
        var kernels = new Option<string?>("--kernels") { Description = "Depthwise kernels, e.g. 3,5,7 (spnas-* spaces)" };
        var expansions = new Option<string?>("--expansions") { Description = "Expansions, e.g. 3,6 (spnas-* spaces)" };
        var searchSe = new Option<bool>("--search-se") { Description = "Also search SE on/off (spnas-* spaces)" };
        var calib = new Option<int>("--calibrate") { Description = "Whole networks measured to calibrate the table (0: none)", DefaultValueFactory = _ => 20 };
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 1 };
        var quiet = new Option<bool>("--quiet") { Description = "No progress on stderr" };
        var strict = new Option<bool>("--strict") { Description = "Fail when a measurement's spread never settles (default: keep its median, warn and name it in the table)" };
        var mo = new MeasureOpts();
        var json = Cli.JsonOption();
        var c = new Command("build", "Time every candidate op of every searchable layer in its real context, plus the fixed rest, and calibrate on whole networks")
            { space, target, input, classes, output, width, lps, kernels, expansions, searchSe, calib, batch, quiet, strict, json };
        mo.AddTo(c);
        c.SetAction(r => Cli.Run(() =>
        {
            var s = ResolveSpace(r.GetValue(space)!, r.GetValue(width), r.GetValue(lps), r.GetValue(kernels), r.GetValue(expansions), r.GetValue(searchSe), r.GetValue(classes));
            var t = LatencyTargets.Parse(r.GetValue(target)!);
            InputShape? inShape = r.GetValue(input) is { } i ? InputShape.Parse(i) : null;
            var o = new LutBuildOptions { Measure = mo.Get(r), CalibrationNetworks = r.GetValue(calib), Batch = r.GetValue(batch), Strict = r.GetValue(strict) };
            bool q = r.GetValue(quiet);
            var lut = LutBuilder.Build(s, t, inShape, o, q ? null : m => Console.Error.WriteLine(m));
            string path = r.GetValue(output)!;
            lut.Save(path);
            if (r.GetValue(json))
            {
                Cli.PrintJson(new Dictionary<string, object?>
                {
                    ["path"] = path, ["space"] = lut.Space, ["input"] = lut.Input, ["target"] = lut.Target, ["runtime"] = lut.Runtime,
                    ["threads"] = lut.Threads, ["layers"] = lut.Layers.Count, ["entries"] = lut.Layers.Sum(l => l.Ms.Count),
                    ["raw_fixed_ms"] = lut.RawFixedMs, ["overhead_ms"] = lut.OverheadMs, ["build_seconds"] = lut.BuildSeconds,
                    ["calibration"] = lut.Calibration.Networks > 0
                        ? new Dictionary<string, object?> { ["networks"] = lut.Calibration.Networks, ["a_ms"] = lut.Calibration.A, ["b"] = lut.Calibration.B, ["fit_before"] = lut.Calibration.Before, ["fit_after"] = lut.Calibration.After }
                        : null,
                    ["unsettled"] = lut.Unsettled,
                });
                return 0;
            }
            Console.WriteLine($"wrote {path}: {lut.Space} @ {lut.Input} on {lut.Target}, {lut.Layers.Count} layers, " +
                              $"{lut.Layers.Sum(l => l.Ms.Count)} entries, raw fixed {lut.RawFixedMs:F3} ms, overhead {lut.OverheadMs:F4} ms, built in {lut.BuildSeconds:F1} s");
            if (lut.Calibration.Networks > 0)
                Console.WriteLine($"calibration on {lut.Calibration.Networks} networks: measured = {lut.Calibration.A:F4} + {lut.Calibration.B:F4} * raw; " +
                                  $"before: {lut.Calibration.Before}; after: {lut.Calibration.After}");
            return 0;
        }));
        return c;
    }

    static Command LutCheckCmd()
    {
        var lutPath = new Option<string>("--lut") { Description = "The table to check", Required = true };
        var samples = new Option<int>("--samples") { Description = "Random architectures measured end to end", DefaultValueFactory = _ => 100 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random architectures", DefaultValueFactory = _ => 1 };
        var output = new Option<string?>("--out") { Description = "Write a PNG scatter plot predicted vs measured" };
        var rowsOut = new Option<string?>("--rows") { Description = "Write every sample (choices, predicted, measured) as CSV" };
        var recal = new Option<bool>("--recalibrate") { Description = "Also re-measure the table's calibration networks with every chunk and score a calibration refitted now (machine drift)" };
        var chunk = new Option<int>("--chunk") { Description = "Networks loaded and measured interleaved at a time", DefaultValueFactory = _ => 100 };
        var json = Cli.JsonOption();
        var quiet = new Option<bool>("--quiet") { Description = "No progress on stderr" };
        var mo = new MeasureOpts();
        var c = new Command("check", "Measure random architectures end to end and score the table: MAPE, RMSE, Kendall tau-b, share within +-10%")
            { lutPath, samples, seed, output, rowsOut, recal, chunk, json, quiet };
        mo.AddTo(c);
        c.SetAction(r => Cli.Run(() =>
        {
            string p = r.GetValue(lutPath)!;
            var lut = Tailor.Hardware.Lut.Lut.Load(p);
            var space = lut.RebuildSpace();
            lut.Verify(space, lut.InputShape, null, p);
            var t = LatencyTargets.Parse(lut.Target);
            if (t.Spec != lut.Target) throw new TailorException($"{p}: $.target: '{lut.Target}' is not a canonical target spec");
            bool measureGiven = r.Tokens.Any(tok => tok.Value.StartsWith("--warmup") || tok.Value.StartsWith("--runs") || tok.Value.StartsWith("--min-rounds") || tok.Value.StartsWith("--max-rounds") || tok.Value.StartsWith("--max-error"));
            var m = measureGiven ? mo.Get(r) : lut.Measure ?? mo.Get(r);
            bool q = r.GetValue(quiet);
            var res = LutCheck.Run(lut, space, t, r.GetValue(samples), r.GetValue(seed), m, r.GetValue(chunk), q ? null : s => Console.Error.WriteLine(s), r.GetValue(recal));
            if (r.GetValue(output) is { } png)
                ScatterPlot.Save(png, res.Rows.Select(x => x.MeasuredMs).ToArray(), res.Rows.Select(x => x.PredictedMs).ToArray(),
                    $"LUT {lut.Space} @ {lut.Input} on {lut.Target}: within10 {res.Calibrated.Within10 * 100:F0}%, tau {res.Calibrated.KendallTau:F2}",
                    "measured (ms)", "predicted (ms)", res.Rows.Select(x => x.RawMs).ToArray());
            if (r.GetValue(rowsOut) is { } csv)
                AtomicFile.WriteAllText(csv, "choices,raw_ms,predicted_ms,recalibrated_ms,measured_ms,measured_iqr_ms\n" + string.Concat(res.Rows.Select(x =>
                    FormattableString.Invariant($"{x.Choices},{x.RawMs:G6},{x.PredictedMs:G6},{x.RecalibratedMs:G6},{x.MeasuredMs:G6},{x.MeasuredIqrMs:G6}\n"))));
            if (r.GetValue(json))
            {
                Cli.PrintJson(new
                {
                    space = res.Space, input = res.Input, target = res.Target, machine = res.Machine, samples = res.Samples, seed = res.Seed,
                    raw = res.Raw, calibrated = res.Calibrated, recalibrated = res.Recalibrated, drift = res.Drift,
                    lut_calibration = new { a_ms = lut.Calibration.A, b = lut.Calibration.B, networks = lut.Calibration.Networks },
                    seconds = res.Seconds, load_avg_start = res.LoadAvgStart, load_avg_end = res.LoadAvgEnd,
                });
                return 0;
            }
            var tb = new Table().Title($"{Cli.Escape(lut.Space)} @ {lut.Input} on {lut.Target}: {res.Samples} random networks").AddColumns("prediction", "MAPE", "RMSE (ms)", "Kendall tau-b", "within +-10%", "within +-5%", "bias");
            var lines = new List<(string, PredictionMetrics)> { ("raw (fixed + sum)", res.Raw), ($"calibrated ({lut.Calibration.A:F3} + {lut.Calibration.B:F3} x raw)", res.Calibrated) };
            if (res.Recalibrated != null) lines.Add(("recalibrated now", res.Recalibrated));
            foreach (var (name, x) in lines)
                tb.AddRow(Cli.Escape(name), $"{x.Mape * 100:F2}%", $"{x.Rmse:F4}", $"{x.KendallTau:F3}", $"{x.Within10 * 100:F1}%", $"{x.Within5 * 100:F1}%", $"{x.Bias * 100:+0.00;-0.00}%");
            AnsiConsole.Write(tb);
            if (res.Drift is double d) Console.WriteLine($"machine drift since the table was built: calibration networks now {d * 100:+0.0;-0.0}%");
            Console.WriteLine($"{res.Seconds:F0} s; load average {res.LoadAvgStart:F2} -> {res.LoadAvgEnd:F2}");
            return 0;
        }));
        return c;
    }

    static LayeredSpace ResolveSpace(string name, double? width, int? lps, string? kernels, string? expansions, bool searchSe, int? classes)
    {
        bool spnas = name.StartsWith("spnas-", StringComparison.Ordinal);
        if (!spnas && (width != null || lps != null || kernels != null || expansions != null || searchSe || classes != null))
            throw new TailorException($"space '{name}': --width, --layers-per-stage, --kernels, --expansions, --search-se and --classes apply to the spnas-* spaces only");
        var o = new SpnasOptions();
        if (width is double w) o = o with { Width = w };
        if (lps is int l) o = o with { LayersPerStage = l };
        if (kernels != null) o = o with { Kernels = Cli.IntList(kernels, "--kernels") };
        if (expansions != null) o = o with { Expansions = Cli.IntList(expansions, "--expansions") };
        if (searchSe) o = o with { SearchSe = true };
        if (classes is int k) o = o with { Classes = k };
        return Spaces.Get(name, o);
    }

    static Command Fit()
    {
        var csv = new Option<string>("--csv") { Description = "CSV with one architecture per row and a latency column", Required = true };
        var encoding = new Option<string>("--encoding") { Description = "fbnet (op_indices column), nb201 (arch_str column), space:NAME (arch column: candidate names or indices)", Required = true };
        var column = new Option<string>("--column") { Description = "Latency column to predict", Required = true };
        var archColumn = new Option<string?>("--arch-column") { Description = "Architecture column (default: op_indices for fbnet, arch_str for nb201, arch for space:NAME)" };
        var train = new Option<int>("--train") { Description = "Rows used for training (the rest are scored)", DefaultValueFactory = _ => 1000 };
        var test = new Option<int?>("--test") { Description = "Score at most this many of the remaining rows" };
        var seed = new Option<int>("--seed") { Description = "Seed of the train/test split and of the model", DefaultValueFactory = _ => 0 };
        var model = new Option<string>("--model") { Description = "mlp (TorchSharp, differentiable) or gbdt (ML.NET FastTree)", DefaultValueFactory = _ => "mlp" };
        var threads = new Option<int>("--threads") { Description = "libtorch threads for the MLP (results are deterministic for a given count)", DefaultValueFactory = _ => 1 };
        var json = Cli.JsonOption();
        var c = new Command("fit", "Fit a latency predictor (encode architecture, regress latency) and score it on the rows not used for training")
            { csv, encoding, column, archColumn, train, test, seed, model, threads, json };
        c.SetAction(r => Cli.Run(() =>
        {
            if (r.GetValue(threads) < 1) throw new TailorException($"--threads: expected >= 1 (got {r.GetValue(threads)})");
            set_num_threads(r.GetValue(threads));
            MklReproducibility.TryEnable(); // bit-identical fits for a seed and thread count (before any computation)
            var enc = ArchEncodings.Parse(r.GetValue(encoding)!);
            var data = LatencyCsv.Load(r.GetValue(csv)!, enc, r.GetValue(column)!, r.GetValue(archColumn));
            var res = PredictorEvaluation.Run(data, r.GetValue(model)!, r.GetValue(train), r.GetValue(test), r.GetValue(seed));
            if (r.GetValue(json)) { Cli.PrintJson(res); return 0; }
            Console.WriteLine($"{res.Model} on {Path.GetFileName(res.Csv)}:{res.Column} ({res.Encoding}, {res.Train} train / {res.Test} test rows, seed {res.Seed}, {res.Seconds:F1} s): " +
                              $"MAPE {res.Mape * 100:F2}%, RMSE {res.Rmse:G4}, within10 {res.Within10 * 100:F1}%, Kendall tau {res.KendallTau:F3}");
            return 0;
        }));
        return c;
    }
}
