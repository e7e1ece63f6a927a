using Tailor.Benchmarks;
using Tailor.Data;
using Tailor.Search.Differentiable;
using Tailor.Util;

namespace Tailor.Tests.Cells;

/// <summary>Small shared pieces of the cell tests: synthetic images, the table (or a skip), temp folders, tiny search options.</summary>
public static class CellTestKit
{
    /// <summary>Random images (seeded) in 10 classes.</summary>
    public static ImageDataset Images(int n = 96, int c = 3, int hw = 32, int seed = 1)
    {
        var rng = new Rng(seed);
        var px = new byte[n * c * hw * hw];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)rng.Next(256);
        var lb = Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray();
        return new ImageDataset("synthetic", px, lb, c, hw, hw, 10);
    }

    static readonly Lazy<Nb201Table> _table = new(() => new Nb201Table(SharedData.Path201));

    public static Nb201Table TableOrSkip()
    {
        Skip.If(!File.Exists(SharedData.Path201), $"shared data missing: {SharedData.Path201} (set {SharedData.EnvVar} or put ../shared/data next to the repository)");
        return _table.Value;
    }

    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "tailor-tests", "cells-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    /// <summary>A search small enough for a unit test: C = 4, N = 1, 48 + 48 images, batch 16, 2 steps per epoch.</summary>
    public static CellSearchOptions Tiny(string method, string space = "nb201") => new()
    {
        Method = method, Space = space, Seed = 3, Epochs = 2, Batch = 16, TrainImages = 48, ValImages = 48, StepsPerEpoch = 2,
        C = 4, N = 1, Layers = 5, PtEvalBatches = 1, PtTuneSteps = 0, HdasStageEpochs = 1, HdasMaxCells = 2,
    };
}
