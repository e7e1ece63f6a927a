using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tailor.Arch;
using Tailor.Util;

namespace Tailor.Hardware.Latency;

/// <summary>A measured architecture with everything needed to judge and reproduce the number.</summary>
public sealed record ArchLatency
{
    [JsonPropertyName("median_ms")] public double MedianMs { get; init; }
    [JsonPropertyName("iqr_ms")] public double IqrMs { get; init; }
    [JsonPropertyName("runs")] public int Runs { get; init; }
    [JsonPropertyName("cv")] public double Cv { get; init; }
    [JsonPropertyName("rounds_cv")] public double RoundsCv { get; init; }
    [JsonPropertyName("error")] public double Error { get; init; }
    [JsonPropertyName("rounds")] public int Rounds { get; init; }
    [JsonPropertyName("runs_per_round")] public int RunsPerRound { get; init; }
    [JsonPropertyName("warmup")] public int Warmup { get; init; }
    [JsonPropertyName("min_ms")] public double MinMs { get; init; }
    [JsonPropertyName("clock")] public string Clock { get; init; } = "";
    [JsonPropertyName("wall_median_ms")] public double WallMedianMs { get; init; }
    [JsonPropertyName("preempted")] public double Preempted { get; init; }
    /// <summary>False when the spread never settled (only with throwUnsettled: false): the median is then less certain than asked.</summary>
    [JsonPropertyName("settled")] public bool Settled { get; init; } = true;
    [JsonPropertyName("arch")] public string Arch { get; init; } = "";
    [JsonPropertyName("arch_hash")] public string ArchHash { get; init; } = "";
    [JsonPropertyName("input")] public string Input { get; init; } = "";
    [JsonPropertyName("batch")] public int Batch { get; init; }
    [JsonPropertyName("target")] public string Target { get; init; } = "";
    [JsonPropertyName("runtime")] public string Runtime { get; init; } = "";
    [JsonPropertyName("threads")] public int Threads { get; init; }
    [JsonPropertyName("machine")] public string Machine { get; init; } = "";
    [JsonPropertyName("load_avg")] public double? LoadAvg { get; init; }
    [JsonPropertyName("date")] public string Date { get; init; } = "";
}

/// <summary>Measures whole architectures on a target and caches results per (canonical arch JSON, batch, target).</summary>
public static class ArchLatencies
{
    /// <summary>SHA-256 (first 16 hex digits) of the canonical architecture JSON: the cache key of an architecture.</summary>
    public static string Hash(Architecture a) => Hash(Encoding.UTF8.GetBytes(ArchJson.Write(a)));

    /// <summary>SHA-256 (first 16 hex digits) of <paramref name="content"/>.</summary>
    static string Hash(byte[] content) => Convert.ToHexString(SHA256.HashData(content), 0, 8).ToLowerInvariant();

    public static ArchLatency Measure(ILatencyTarget target, Architecture arch, int batch = 1, MeasureOptions? o = null, int seed = 0, bool throwUnsettled = true) =>
        MeasureMany(target, new[] { arch }, batch, o, seed, throwUnsettled)[0];

    /// <summary>Several architectures, interleaved round by round (see <see cref="LatencyMeter.MeasureMany"/>).</summary>
    public static ArchLatency[] MeasureMany(ILatencyTarget target, IReadOnlyList<Architecture> archs, int batch = 1, MeasureOptions? o = null, int seed = 0, bool throwUnsettled = true)
    {
        var models = new List<ILatencyModel>();
        try
        {
            foreach (var a in archs) models.Add(target.Prepare(a, batch, seed));
            var r = LatencyMeter.MeasureMany(models, o, archs.Select(a => a.Name).ToList(), throwUnsettled: throwUnsettled);
            return archs.Select((a, i) => Record(target, a, batch, r[i])).ToArray();
        }
        finally { foreach (var m in models) m.Dispose(); }
    }

    public static ArchLatency Record(ILatencyTarget target, Architecture arch, int batch, LatencyResult r) =>
        Record(target, arch.Name, Hash(arch), arch.Input.ToString(), batch, r);

    /// <summary>A measurement of anything with a name, a content hash and an input shape (an ONNX file, say).</summary>
    public static ArchLatency Record(ILatencyTarget target, string name, string hash, string input, int batch, LatencyResult r) => new()
    {
        MedianMs = r.MedianMs, IqrMs = r.IqrMs, Runs = r.Runs, Cv = r.Cv, RoundsCv = r.RoundsCv, Error = r.Error, Rounds = r.Rounds,
        RunsPerRound = r.RunsPerRound, Warmup = r.Warmup, MinMs = r.MinMs, Clock = r.Clock, WallMedianMs = r.WallMedianMs, Preempted = r.Preempted, Settled = r.Settled,
        Arch = name, ArchHash = hash, Input = input, Batch = batch,
        Target = target.Spec, Runtime = target.Runtime, Threads = target.Threads, Machine = MachineInfo.Current.ToString(),
        LoadAvg = MachineInfo.LoadAverage(), Date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    };

    /// <summary>An ONNX file on an ort-cpu target (<see cref="OrtCpuTarget.LoadOnnx"/>); the hash is of the file's bytes, read once.</summary>
    public static ArchLatency MeasureOnnxFile(OrtCpuTarget target, string path, int batch = 1, MeasureOptions? o = null, bool throwUnsettled = true)
    {
        if (!File.Exists(path)) throw new TailorException($"{path}: file not found");
        var bytes = File.ReadAllBytes(path);
        var (model, shape) = target.LoadOnnx(bytes, path, batch);
        using (model)
        {
            var name = Path.GetFileName(path);
            var r = LatencyMeter.MeasureMany(new[] { model }, o, new[] { name }, throwUnsettled: throwUnsettled)[0];
            return Record(target, name, Hash(bytes), string.Join('x', shape.Skip(1)), batch, r);
        }
    }
}

/// <summary>
/// A JSON-lines file of measurements keyed by (arch hash, batch, target spec): search methods measure
/// each architecture once per target. Appends are whole lines; a torn last line is ignored on load.
/// </summary>
public sealed class LatencyCache
{
    readonly string _path;
    readonly Dictionary<string, ArchLatency> _map = new();

    public LatencyCache(string path)
    {
        _path = path;
        if (!File.Exists(path)) return;
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                var r = JsonSerializer.Deserialize<ArchLatency>(line);
                if (r != null && r.ArchHash.Length > 0) _map[Key(r.ArchHash, r.Batch, r.Target)] = r;
            }
            catch (JsonException) { /* torn line from a killed run */ }
        }
    }

    public int Count => _map.Count;

    static string Key(string hash, int batch, string target) => $"{hash}|{batch}|{target}";

    public ArchLatency? Get(Architecture a, int batch, ILatencyTarget t) =>
        _map.TryGetValue(Key(ArchLatencies.Hash(a), batch, t.Spec), out var r) ? r : null;

    /// <summary>The cached measurement, or a fresh one (appended to the file).</summary>
    public ArchLatency GetOrMeasure(ILatencyTarget t, Architecture a, int batch = 1, MeasureOptions? o = null)
    {
        if (Get(a, batch, t) is { } hit) return hit;
        var r = ArchLatencies.Measure(t, a, batch, o);
        Put(r);
        return r;
    }

    public void Put(ArchLatency r)
    {
        _map[Key(r.ArchHash, r.Batch, r.Target)] = r;
        var dir = Path.GetDirectoryName(Path.GetFullPath(_path))!;
        Directory.CreateDirectory(dir);
        File.AppendAllText(_path, JsonSerializer.Serialize(r) + "\n");
    }
}
