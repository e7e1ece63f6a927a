using System.Globalization;

namespace Tailor.Arch;

/// <summary>One candidate replacement of a DONNA block: <see cref="Depth"/> MBConv layers of one kind.</summary>
public sealed record BlockChoice(int Kernel, int Expansion, int Depth, bool Se, Activation Act, double Width)
{
    public string Name => $"k{Kernel}_e{Expansion}_d{Depth}" + (Se ? "_se" : "") + (Act == Activation.Swish ? "_swish" : "") +
        (Width != 1.0 ? "_w" + Width.ToString("0.##", CultureInfo.InvariantCulture) : "");
}

/// <summary>Grid of candidate values per block (DONNA: kernel {3,5,7}, expansion {2,3,4,6}, depth 1-4, SE, ReLU/Swish, width).</summary>
public sealed record BlockGrid
{
    public int[] Kernels { get; init; } = { 3, 5, 7 };
    public int[] Expansions { get; init; } = { 2, 3, 4, 6 };
    public int[] Depths { get; init; } = { 1, 2, 3, 4 };
    public bool[] Se { get; init; } = { false, true };
    public Activation[] Acts { get; init; } = { Activation.Relu, Activation.Swish };
    public double[] Widths { get; init; } = { 0.5, 0.75, 1.0 };

    /// <summary>The full DONNA grid (576 options per block).</summary>
    public static BlockGrid Full { get; } = new();
    /// <summary>A small grid that fits 2 cores in minutes (16 options per block).</summary>
    public static BlockGrid Small { get; } = new() { Kernels = new[] { 3, 5 }, Expansions = new[] { 3, 6 }, Depths = new[] { 1, 2 }, Se = new[] { false, true }, Acts = new[] { Activation.Relu }, Widths = new[] { 1.0 } };

    public IReadOnlyList<BlockChoice> Enumerate() =>
        (from k in Kernels from e in Expansions from d in Depths from s in Se from a in Acts from w in Widths
         select new BlockChoice(k, e, d, s, a, w)).ToList();

    /// <summary>Parses "kernels=3,5;expansions=3,6;depths=1,2;se=0,1;acts=relu;widths=1".</summary>
    public static BlockGrid Parse(string spec)
    {
        var g = new BlockGrid();
        foreach (var part in spec.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2);
            if (kv.Length != 2) throw new TailorException($"block grid '{spec}': expected key=v1,v2 pairs separated by ';' (got '{part}')");
            var vals = kv[1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            int[] Ints() => vals.Select(v => int.TryParse(v, out int x) && x > 0 ? x : throw new TailorException($"block grid: {kv[0]}: '{v}' is not a positive integer")).ToArray();
            g = kv[0] switch
            {
                "kernels" => g with { Kernels = Ints().All(k => k is 3 or 5 or 7) ? Ints() : throw new TailorException("block grid: kernels must be among 3, 5, 7") },
                "expansions" => g with { Expansions = Ints() },
                "depths" => g with { Depths = Ints() },
                "se" => g with { Se = vals.Select(v => v is "1" or "true" or "on").ToArray() },
                "acts" => g with { Acts = vals.Select(v => ArchJson.ParseAct(v, "block grid: acts")).ToArray() },
                "widths" => g with { Widths = vals.Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double w) && w > 0 && w <= 2 ? w : throw new TailorException($"block grid: widths: '{v}' is not in (0, 2]")).ToArray() },
                _ => throw new TailorException($"block grid: unknown key '{kv[0]}'; expected kernels, expansions, depths, se, acts, widths"),
            };
        }
        return g;
    }
}

/// <summary>
/// A DONNA block search space: a reference network cut into N blocks at stride boundaries
/// (each block = a run of reference blocks ending before the next stride-2 block, or at
/// configured cut points). Every block can be replaced by any <see cref="BlockChoice"/>; the
/// stem, the blocks outside the cut range and the head stay as in the reference.
/// </summary>
public sealed class BlockSpace
{
    public string Name { get; }
    public Architecture Reference { get; }
    /// <summary>Per block: [start, end) indices into Reference.Blocks.</summary>
    public IReadOnlyList<(int Start, int End)> Cuts { get; }
    public IReadOnlyList<BlockChoice> Options { get; }
    public BlockGrid Grid { get; }

    public BlockSpace(string name, Architecture reference, IReadOnlyList<(int Start, int End)> cuts, BlockGrid grid)
    {
        Name = name; Reference = reference; Cuts = cuts; Grid = grid;
        Options = grid.Enumerate();
        if (Options.Count == 0) throw new TailorException($"block space '{name}': the grid has no options");
        var an = ArchAnalysis.Analyze(reference);
        for (int n = 0; n < cuts.Count; n++)
        {
            var (s, e) = cuts[n];
            if (s < 0 || e > reference.Blocks.Count || s >= e || (n > 0 && s != cuts[n - 1].End))
                throw new TailorException($"block space '{name}': block {n}: cut [{s}, {e}) is not a contiguous range of the reference's {reference.Blocks.Count} blocks");
            for (int i = s + 1; i < e; i++)
                if (reference.Blocks[i].Stride != 1)
                    throw new TailorException($"block space '{name}': block {n}: reference block {i} has stride {reference.Blocks[i].Stride} inside the block; blocks must be cut at stride boundaries (a stride-2 layer can only open a block)");
        }
    }

    /// <summary>Cuts a reference at its stride-2 blocks: a new DONNA block starts at every stride-2 reference block.</summary>
    public static IReadOnlyList<(int, int)> StrideCuts(Architecture reference, int skipFirst = 0)
    {
        var starts = new List<int> { skipFirst };
        for (int i = skipFirst + 1; i < reference.Blocks.Count; i++) if (reference.Blocks[i].Stride != 1) starts.Add(i);
        return starts.Select((s, n) => (s, n + 1 < starts.Count ? starts[n + 1] : reference.Blocks.Count)).ToList();
    }

    public int BlockCount => Cuts.Count;

    /// <summary>Reference output channels of block n (the teacher's width there).</summary>
    public int TeacherOut(int n) => Reference.Blocks[Cuts[n].End - 1].Out;
    public int BlockStride(int n) => Reference.Blocks[Cuts[n].Start].Stride;

    /// <summary>The layers block n becomes under <paramref name="c"/>, given its input channels.</summary>
    public List<Block> BlockLayers(int n, BlockChoice c)
    {
        int outC = Spaces.Round8(TeacherOut(n) * c.Width);
        var se = c.Se ? new SqueezeExcite(0.25, "in", c.Act, Activation.Sigmoid) : null;
        return Enumerable.Range(0, c.Depth).Select(i => Block.MBConv(outC, c.Kernel, c.Expansion, i == 0 ? BlockStride(n) : 1, c.Act, se)).ToList();
    }

    /// <summary>Assembles a network: option index per block.</summary>
    public Architecture Build(IReadOnlyList<int> choice, string? name = null)
    {
        if (choice.Count != BlockCount) throw new TailorException($"block space '{Name}': expected {BlockCount} block choices, got {choice.Count}");
        var blocks = new List<Block>();
        blocks.AddRange(Reference.Blocks.Take(Cuts[0].Start));
        for (int n = 0; n < BlockCount; n++)
        {
            if (choice[n] < 0 || choice[n] >= Options.Count) throw new TailorException($"block space '{Name}': block {n}: option {choice[n]} out of range 0..{Options.Count - 1}");
            blocks.AddRange(BlockLayers(n, Options[choice[n]]));
        }
        blocks.AddRange(Reference.Blocks.Skip(Cuts[^1].End));
        return Reference with { Name = name ?? $"{Name}:{string.Join('-', choice)}", Blocks = blocks };
    }

    public int[] Sample(Random rng) => Enumerable.Range(0, BlockCount).Select(_ => rng.Next(Options.Count)).ToArray();
}
