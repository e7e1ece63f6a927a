namespace Tailor.Arch;

/// <summary>One choice of a searchable layer: a short name (e.g. "k5_e6", "skip") and the block it becomes.</summary>
public sealed record Candidate(string Name, Block Block);

/// <summary>A slot of a layered space: either a fixed block or a choice among candidates.</summary>
public sealed record Slot(Block? Fixed, IReadOnlyList<Candidate>? Choices)
{
    public bool Searchable => Choices != null;
}

/// <summary>
/// A layer-wise (macro) search space: fixed stem, an ordered list of slots (fixed blocks or
/// searchable layers with candidate ops), fixed head. An architecture of the space is one choice
/// index per searchable layer. Single-Path NAS, FBNet/HW-NAS-Bench and LUT building use it.
/// </summary>
public sealed class LayeredSpace
{
    public string Name { get; }
    public InputShape Input { get; }
    public int Classes { get; }
    public IReadOnlyList<Block> Stem { get; }
    public IReadOnlyList<Slot> Slots { get; }
    public Head Head { get; }
    /// <summary>Indices into <see cref="Slots"/> of the searchable layers, in order.</summary>
    public IReadOnlyList<int> SearchableSlots { get; }
    /// <summary>Free-form description of how the space was configured (width, layers per stage...).</summary>
    public IReadOnlyDictionary<string, string> Config { get; }

    public LayeredSpace(string name, InputShape input, int classes, IReadOnlyList<Block> stem, IReadOnlyList<Slot> slots, Head head,
        IReadOnlyDictionary<string, string>? config = null)
    {
        Name = name; Input = input; Classes = classes; Stem = stem; Slots = slots; Head = head;
        SearchableSlots = Enumerable.Range(0, slots.Count).Where(i => slots[i].Searchable).ToList();
        Config = config ?? new Dictionary<string, string>();
        // validate every candidate in context once: shapes do not depend on the choices (all candidates of a slot share out/stride)
        var baseChoice = new int[SearchableSlots.Count];
        ArchAnalysis.Analyze(Build(baseChoice), $"space:{name}");
        for (int l = 0; l < baseChoice.Length; l++)
            for (int c = 1; c < Choices(l).Count; c++)
            {
                var ch = (int[])baseChoice.Clone();
                ch[l] = c;
                ArchAnalysis.Analyze(Build(ch), $"space:{name} layer {l} candidate {Choices(l)[c].Name}");
            }
    }

    public int LayerCount => SearchableSlots.Count;

    public IReadOnlyList<Candidate> Choices(int layer) => Slots[SearchableSlots[layer]].Choices!;

    /// <summary>Number of architectures (product of candidate counts), as a double since it overflows.</summary>
    public double Size => SearchableSlots.Aggregate(1.0, (p, s) => p * Slots[s].Choices!.Count);

    public Architecture Build(IReadOnlyList<int> choice, string? name = null)
    {
        if (choice.Count != LayerCount)
            throw new TailorException($"space:{Name}: expected {LayerCount} layer choices, got {choice.Count}");
        var blocks = new List<Block>();
        int l = 0;
        foreach (var s in Slots)
        {
            if (!s.Searchable) { blocks.Add(s.Fixed!); continue; }
            int c = choice[l];
            if (c < 0 || c >= s.Choices!.Count)
                throw new TailorException($"space:{Name}: layer {l}: choice {c} out of range 0..{s.Choices!.Count - 1}");
            blocks.Add(s.Choices[c].Block);
            l++;
        }
        return new Architecture
        {
            Name = name ?? $"{Name}:{string.Join('-', choice)}", Input = Input, Classes = Classes,
            Stem = Stem.ToList(), Blocks = blocks, Head = Head,
        };
    }

    public int[] Sample(Random rng)
    {
        var c = new int[LayerCount];
        for (int i = 0; i < c.Length; i++) c[i] = rng.Next(Choices(i).Count);
        return c;
    }

    /// <summary>Index of the block of searchable layer <paramref name="layer"/> within <see cref="Architecture.Blocks"/>.</summary>
    public int BlockIndex(int layer) => SearchableSlots[layer];

    /// <summary>Parses "k3_e6 skip ..." or "3 8 ..." (candidate names or indices, space- or comma-separated).</summary>
    public int[] Parse(string s)
    {
        var parts = s.Split(new[] { ' ', ',', '-' }, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != LayerCount)
            throw new TailorException($"space:{Name}: expected {LayerCount} layer choices, got {parts.Length} in '{s}'");
        var c = new int[LayerCount];
        for (int i = 0; i < parts.Length; i++)
        {
            var ch = Choices(i);
            int idx = int.TryParse(parts[i], out int k) ? k : ch.ToList().FindIndex(x => x.Name == parts[i]);
            if (idx < 0 || idx >= ch.Count)
                throw new TailorException($"space:{Name}: layer {i}: unknown choice '{parts[i]}'; expected one of {string.Join(", ", ch.Select(x => x.Name))} or 0..{ch.Count - 1}");
            c[i] = idx;
        }
        return c;
    }

    /// <summary>Architecture with the same searchable choice applied to every layer where allowed (uniform nets for LUT checks).</summary>
    public int[]? Uniform(string candidateName)
    {
        var c = new int[LayerCount];
        for (int i = 0; i < LayerCount; i++)
        {
            int idx = Choices(i).ToList().FindIndex(x => x.Name == candidateName);
            if (idx < 0) return null;
            c[i] = idx;
        }
        return c;
    }
}
