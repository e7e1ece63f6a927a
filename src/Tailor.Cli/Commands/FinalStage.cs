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
public sealed record FinalStageResult(RunSummary? Trained, ArchLatency Measured, ArchAnalysis Analysis);

/// <summary>
/// The end of every architecture search command (single-path, random-train): the found network
/// (already saved as --out/arch.json) trained from scratch with <see cref="TrainRecipe"/> into --out/train
/// (the same code as `tailor train`; resumes from its checkpoint), exported to --out/model.onnx and
/// measured on the target. One implementation, so the searches are compared on equal terms.
/// </summary>
public static class FinalStage
{
    public static FinalStageResult Run(IAnsiConsole console, string outDir, Architecture arch, string dataSpec, int? subset, int threads,
        int trainEpochs, int batch, int seed, bool resuming, ILatencyTarget target, MeasureOptions measure)
    {
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
            console.MarkupLine($"[bold]measuring[/] the decoded network on {Cli.Escape(target.Spec)}...");
            // a busy machine at the very end must not throw away the search and the training: the median is
            // kept and flagged (measured_settled: false) with a hint, instead of failing the whole run
            var measured = ArchLatencies.Measure(target, arch, 1, measure, throwUnsettled: false);
            if (!measured.Settled)
                console.MarkupLine($"[yellow]warning:[/] the latency spread never settled (round-median CV {100 * measured.RoundsCv:F1}%, error {100 * measured.Error:F2}%): " +
                                   $"the machine is busy; re-measure later with: tailor latency measure --arch {Cli.Escape(Path.Combine(outDir, "arch.json"))} --target {Cli.Escape(target.Spec)}");
            return new FinalStageResult(trained, measured, ArchAnalysis.Analyze(arch));
        }
        finally { run?.Dispose(); }
    }
}
