using Tailor.Util;
using static TorchSharp.torch;

namespace Tailor.Search.Differentiable;

/// <summary>
/// Named float tensors in one file (checkpoints): magic "TCKP1", count, then per tensor its name,
/// rank, shape and float32 data. Written atomically.
/// </summary>
public static class TensorStore
{
    const string Magic = "TCKP1";

    public static void Save(string path, IEnumerable<(string Name, Tensor Value)> tensors)
    {
        var list = tensors.ToList();
        AtomicFile.Write(path, s =>
        {
            using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(list.Count);
            foreach (var (name, t) in list)
            {
                using var c = t.detach().to(ScalarType.Float32).contiguous();
                w.Write(name);
                w.Write(c.shape.Length);
                foreach (var d in c.shape) w.Write(d);
                var data = c.data<float>().ToArray();
                var bytes = new byte[data.Length * 4];
                Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);
                w.Write(bytes);
            }
        });
    }

    public static Dictionary<string, Tensor> Load(string path)
    {
        if (!File.Exists(path)) throw new TailorException($"{path}: checkpoint tensors not found");
        try
        {
            using var fs = File.OpenRead(path);
            using var r = new BinaryReader(fs);
            if (r.ReadString() != Magic) throw new InvalidDataException("bad magic");
            int n = r.ReadInt32();
            var res = new Dictionary<string, Tensor>();
            for (int i = 0; i < n; i++)
            {
                string name = r.ReadString();
                int rank = r.ReadInt32();
                var shape = new long[rank];
                long numel = 1;
                for (int k = 0; k < rank; k++) { shape[k] = r.ReadInt64(); numel *= shape[k]; }
                var bytes = r.ReadBytes(checked((int)(numel * 4)));
                if (bytes.Length != numel * 4) throw new InvalidDataException("truncated");
                var data = new float[numel];
                Buffer.BlockCopy(bytes, 0, data, 0, bytes.Length);
                res[name] = tensor(data, shape).DetachFromDisposeScope();
            }
            return res;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or EndOfStreamException or OverflowException)
        {
            throw new TailorException($"{path}: not a readable checkpoint ({e.Message})");
        }
    }
}
