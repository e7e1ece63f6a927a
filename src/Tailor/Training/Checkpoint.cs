using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Training;

/// <summary>Where a run stands: completed epochs and steps, the data-order generator, the history.</summary>
public sealed class TrainState
{
    /// <summary>Completed epochs.</summary>
    public int Epoch { get; set; }
    /// <summary>Completed optimisation steps (the schedule's clock).</summary>
    public long Step { get; set; }
    /// <summary>State of the data-order/augmentation generator at the start of the next epoch.</summary>
    public ulong[] DataRng { get; set; } = Array.Empty<ulong>();
    public List<EpochMetrics> History { get; set; } = new();
}

/// <summary>
/// checkpoint.pt: everything a run needs to continue bit-identically: model parameters and buffers,
/// optimizer state, schedule position, the data-order generator, libtorch's RNG and the metrics
/// history, plus caller metadata (the CLI stores its configuration there). Layout:
/// "TAILORCK", format version (int32), payload length (int64), payload, SHA-256 of the payload.
/// The payload is: header JSON (length-prefixed UTF-8), model (TorchSharp format), optimizer type
/// and state, libtorch RNG state tensor. Written atomically; a damaged file is detected by the hash.
/// </summary>
public static class Checkpoint
{
    static readonly byte[] Magic = "TAILORCK"u8.ToArray();
    public const int FormatVersion = 1;

    public sealed record Header(int Epoch, long Step, ulong[] DataRng, List<EpochMetrics> History, string Optimizer, JsonObject? Meta);

    static readonly JsonSerializerOptions Json = new() { WriteIndented = false, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static void Save(string path, nn.Module model, optim.Optimizer optimizer, TrainState state, JsonObject? meta = null)
    {
        if (optimizer is not OptimizerHelper helper)
            throw new TailorException($"{path}: the optimizer {optimizer.GetType().Name} cannot be checkpointed (not a managed TorchSharp optimizer)");
        var header = new JsonObject
        {
            ["format"] = "tailor-checkpoint",
            ["epoch"] = state.Epoch,
            ["step"] = state.Step,
            ["data_rng"] = new JsonArray(state.DataRng.Select(v => (JsonNode)v.ToString()).ToArray()),
            ["history"] = JsonSerializer.SerializeToNode(state.History, Json),
            ["optimizer"] = optimizer.GetType().Name,
            ["meta"] = meta?.DeepClone(),
        };
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            var hb = Encoding.UTF8.GetBytes(header.ToJsonString(Json));
            w.Write(hb.Length); w.Write(hb);
            model.save(w);
            helper.save_state_dict(w);
            using var rng = torch.get_rng_state();
            rng.Save(w);
        }
        var bytes = payload.GetBuffer().AsSpan(0, (int)payload.Length).ToArray();
        var hash = SHA256.HashData(bytes);
        Util.AtomicFile.Write(path, s =>
        {
            using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
            w.Write(Magic); w.Write(FormatVersion); w.Write((long)bytes.Length); w.Write(bytes); w.Write(hash);
        });
    }

    /// <summary>Reads and verifies the file; returns the payload. Every problem is one line naming the file.</summary>
    static byte[] ReadVerified(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "checkpoint.pt");
        if (!File.Exists(path)) throw new TailorException($"{path}: checkpoint not found");
        byte[] all;
        try { all = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new TailorException($"{path}: cannot read the checkpoint ({e.Message.Split('\n')[0].Trim()})"); }
        if (all.Length < 20 || !all.AsSpan(0, 8).SequenceEqual(Magic))
            throw new TailorException($"{path}: not a Tailor checkpoint (bad magic)");
        int version = BitConverter.ToInt32(all, 8);
        if (version != FormatVersion) throw new TailorException($"{path}: checkpoint format version {version} is not supported (expected {FormatVersion})");
        long len = BitConverter.ToInt64(all, 12);
        if (len < 0 || 20 + len + 32 != all.Length)
            throw new TailorException($"{path}: corrupt checkpoint (truncated or padded: {all.Length} bytes, the header announces {20 + len + 32})");
        var payload = all.AsSpan(20, (int)len).ToArray();
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(all.AsSpan(20 + (int)len, 32)))
            throw new TailorException($"{path}: corrupt checkpoint (checksum mismatch)");
        return payload;
    }

    static Header ParseHeader(BinaryReader r, string path)
    {
        try
        {
            int n = r.ReadInt32();
            var node = JsonNode.Parse(Encoding.UTF8.GetString(r.ReadBytes(n)))!.AsObject();
            if ((string?)node["format"] != "tailor-checkpoint") throw new InvalidDataException("not a tailor-checkpoint header");
            var rngState = node["data_rng"]!.AsArray().Select(v => ulong.Parse((string)v!)).ToArray();
            var history = node["history"].Deserialize<List<EpochMetrics>>(Json) ?? new();
            return new Header((int)node["epoch"]!, (long)node["step"]!, rngState, history, (string)node["optimizer"]!, node["meta"] as JsonObject);
        }
        catch (Exception e) when (e is not TailorException)
        {
            throw new TailorException($"{path}: corrupt checkpoint header ({e.Message.Split('\n')[0].Trim()})");
        }
    }

    /// <summary>The header only (epoch, history, metadata), after verifying the whole file.</summary>
    public static Header ReadHeader(string path)
    {
        var payload = ReadVerified(path);
        using var r = new BinaryReader(new MemoryStream(payload));
        return ParseHeader(r, path);
    }

    /// <summary>Restores model, optimizer, libtorch RNG and <paramref name="state"/> from a checkpoint.</summary>
    public static Header Load(string path, nn.Module model, optim.Optimizer optimizer, TrainState state)
    {
        var payload = ReadVerified(path);
        using var r = new BinaryReader(new MemoryStream(payload));
        var h = ParseHeader(r, path);
        if (optimizer is not OptimizerHelper helper)
            throw new TailorException($"{path}: the optimizer {optimizer.GetType().Name} cannot be restored (not a managed TorchSharp optimizer)");
        if (h.Optimizer != optimizer.GetType().Name)
            throw new TailorException($"{path}: the checkpoint holds {h.Optimizer} state, this run uses {optimizer.GetType().Name}");
        try { model.load(r, strict: true); }
        catch (Exception e) { throw new TailorException($"{path}: the checkpoint's model does not match this architecture ({e.Message.Split('\n')[0].Trim()})"); }
        try
        {
            helper.load_state_dict(r);
            using var rng = TensorExtensionMethods.Load(r);
            torch.set_rng_state(rng);
        }
        catch (Exception e) { throw new TailorException($"{path}: corrupt checkpoint optimizer/RNG state ({e.Message.Split('\n')[0].Trim()})"); }
        state.Epoch = h.Epoch; state.Step = h.Step; state.DataRng = h.DataRng; state.History = new List<EpochMetrics>(h.History);
        return h;
    }
}
