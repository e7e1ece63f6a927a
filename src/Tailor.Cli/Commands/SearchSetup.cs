using Spectre.Console;
using Tailor.Arch;
using Tailor.Data;
using Tailor.Hardware.Latency;
using Tailor.Hardware.Lut;

namespace Tailor.Cli.Commands;

/// <summary>
/// The start of every search over an spnas-* space (single-path, random-train): the space for the data,
/// and its latency table on the target. One implementation, so both searches see the same space and table.
/// </summary>
public static class SearchSetup
{
    /// <summary><paramref name="needs"/>: how the command says it needs an spnas-* space ("single-path search needs"). The space with the dataset's classes, the data spec (default by space) and the opened data; refuses data whose images do not fit the space.</summary>
    public static (LayeredSpace Space, string DataSpec, DataSource Source) SpaceAndData(string spaceName, SpnasOptions opts, string? data, string needs)
    {
        if (!spaceName.StartsWith("spnas-")) throw new TailorException($"--space: {needs} an spnas-* space (got '{spaceName}')");
        var sp = Spaces.Get(spaceName, opts);
        string dataSpec = data ?? (spaceName == "spnas-cifar" ? "cifar10" : spaceName == "spnas-fmnist" ? "fashion-mnist" : throw new TailorException("--data is required for this space"));
        var source = Datasets.Open(dataSpec);
        if (source.Shape != sp.Input)
            throw new TailorException($"--data {dataSpec}: images are {source.Shape} but space {spaceName} expects {sp.Input}; use spnas-fmnist for 1x28x28, spnas-cifar for 3x32x32");
        if (source.Classes != sp.Classes) sp = Spaces.Get(spaceName, opts with { Classes = source.Classes });
        return (sp, dataSpec, source);
    }

    /// <summary>The latency table's file: --lut, else --out/lut.json.</summary>
    public static string LutFile(string? lutPath, string outDir) => lutPath ?? Path.Combine(outDir, "lut.json");

    /// <summary>The table given by --lut (it must exist), else --out/lut.json: loaded when there (--resume), measured and saved once otherwise.</summary>
    public static Lut LoadOrBuildLut(IAnsiConsole console, string? lutPath, string outDir, LayeredSpace sp, ILatencyTarget tgt, MeasureOptions measure)
    {
        string lutFile = LutFile(lutPath, outDir);
        if (File.Exists(lutFile)) return Lut.Load(lutFile, sp, sp.Input, tgt);
        if (lutPath != null) throw new TailorException($"--lut {lutFile}: file not found");
        console.MarkupLine($"[bold]measuring the latency table[/] of {sp.Name} on {Cli.Escape(tgt.Spec)} (once; reused on --resume)");
        var lut = LutBuilder.Build(sp, tgt, sp.Input, new LutBuildOptions { Measure = measure }, msg => console.MarkupLine($"  {Cli.Escape(msg)}"));
        lut.Save(lutFile);
        return lut;
    }
}
