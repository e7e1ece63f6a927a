using Spectre.Console;
using Tailor.Arch;
using Tailor.Hardware.Latency;
using Tailor.Hardware.Onnx;
using Tailor.Models;
using Tailor.Search.Trained;
using Tailor.Training;
using Tailor.Util;
using Google.Protobuf;

namespace Tailor.Cli.Commands;

/// <summary>What the final stage produced: the training summary (null with 0 epochs), the measured latency and the analysis of the network.</summary>
/// <param name="Steady">How the final latency settled after the training (<see cref="SteadyMeasure"/>).</param>
public sealed record FinalStageResult(RunSummary? Trained, ArchLatency Measured, ArchAnalysis Analysis, SteadyMeasure.Result Steady)
{
    /// <summary>The measurement's fields of a search summary (measured_ms, its spread and how it settled), inserted after <paramref name="after"/>.</summary>
    public void InsertMeasured(System.Text.Json.Nodes.JsonObject summary, string after)
    {
        int at = summary.IndexOf(after) + 1;
        foreach (var (key, value) in new (string, System.Text.Json.Nodes.JsonNode?)[]
        {
            ("measured_ms", Measured.MedianMs), ("measured_iqr_ms", Measured.IqrMs), ("measured_settled", Measured.Settled),
            ("measured_first_ms", Steady.Medians[0]), ("measured_wait_seconds", Steady.WaitedSeconds), ("measured_steady", Steady.Steady),
        })
            summary.Insert(at++, key, value);
    }
}

/// <summary>
/// The end of every architecture search command (single-path, random-train): the found network
/// (already saved as --out/arch.json) trained from scratch with <see cref="TrainRecipe"/> into --out/train
/// (the same code as `tailor train`; resumes from its checkpoint), exported to --out/model.onnx and
/// measured on the target. One implementation, so the searches are compared on equal terms.
/// </summary>
public static class FinalStage
{
    /// <summary>`--settle`: how long the final measurement may wait for the machine to come back to rest after the training.</summary>
    public static System.CommandLine.Option<double> SettleOption() => new("--settle")
    {
        Description = "Seconds the final latency measurement may wait for the machine to come back to rest after the training " +
                      "(re-measured every 10 s until two medians agree within 3%; 0: measure once)",
        DefaultValueFactory = _ => SteadyMeasure.Options.Default.MaxWait.TotalSeconds,
    };

    public static FinalStageResult Run(IAnsiConsole console, string outDir, Architecture arch, string dataSpec, int? subset, int threads,
        int trainEpochs, int batch, int seed, bool resuming, ILatencyTarget target, MeasureOptions measure, double settleSeconds)
    {
        OptionCheck.NonNegative("--settle", settleSeconds);
        // 4. final training from scratch (the same code as `tailor train`)
        RunSummary? trained = null;
        ConvNet? model = null;
        string trainDir = Path.Combine(outDir, "train");
        TrainingRun? run = null;
        try
        {
            if (trainEpochs > 0)
            {
                bool trainResume = resuming && File.Exists(Path.Combine(trainDir, TrainingRun.CheckpointFile));
                run = trainResume ? TrainingRun.PrepareResume(trainDir)
                    : TrainingRun.Prepare(TrainRecipe.Config(Path.Combine(outDir, "arch.json"), dataSpec, subset, threads, trainEpochs, batch, seed), trainDir);
                if (!(trainResume && run.ResumeHeader?.Epoch >= trainEpochs))
                    trained = TrainCommand.Train(run, console, CancellationToken.None);
                else trained = run.Run(CancellationToken.None);
                model = run.Trainer!.Model as ConvNet;
            }
            // 5. ONNX export of the trained network, measured on the target
            model ??= new ConvNet(arch);
            model.eval();
            string onnxPath = Path.Combine(outDir, "model.onnx");
            var proto = OnnxExport.FromConvNet(model);
            AtomicFile.WriteAllBytes(onnxPath, proto.ToByteArray());
            // the trainer (its tensors, data, optimizer state) is not needed any more: free it before timing
            run?.Dispose();
            run = null;
            console.MarkupLine($"[bold]measuring[/] the decoded network on {Cli.Escape(target.Spec)}...");
            // measured once the machine is back at rest after the training (SteadyMeasure); a busy machine at the
            // very end must not throw away the search and the training: an unsettled median is kept and flagged
            // (measured_settled: false) with a hint, instead of failing the whole run
            var steady = SteadyMeasure.Run(() => ArchLatencies.Measure(target, arch, 1, measure, throwUnsettled: false),
                SteadyMeasure.Options.Default with { MaxWait = TimeSpan.FromSeconds(settleSeconds) },
                onMeasured: (i, ms) => console.MarkupLine($"  measurement {i}: {ms:F3} ms"));
            var measured = steady.Latency;
            if (!steady.Steady && steady.Medians.Count > 1)
                console.MarkupLine($"[yellow]warning:[/] the latency kept drifting for {steady.WaitedSeconds:F0} s after the training " +
                                   $"({string.Join(", ", steady.Medians.Select(m => m.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))} ms); the last is reported");
            if (!measured.Settled)
                console.MarkupLine($"[yellow]warning:[/] the latency spread never settled (round-median CV {100 * measured.RoundsCv:F1}%, error {100 * measured.Error:F2}%): " +
                                   $"the machine is busy; re-measure later with: tailor latency measure --arch {Cli.Escape(Path.Combine(outDir, "arch.json"))} --target {Cli.Escape(target.Spec)}");
            return new FinalStageResult(trained, measured, ArchAnalysis.Analyze(arch), steady);
        }
        finally { run?.Dispose(); }
    }
}
