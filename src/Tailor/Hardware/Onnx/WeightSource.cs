using Tailor.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Tailor.Hardware.Onnx;

/// <summary>What a tensor of the network is, so a weight source can initialise it.</summary>
public enum ParamKind { ConvWeight, ConvBias, BnWeight, BnBias, BnMean, BnVar, FcWeight, FcBias }

/// <summary>Where the exporter gets its tensors from: keys and shapes are those of <see cref="ConvNet"/>'s state_dict.</summary>
public interface IWeightSource
{
    /// <summary>The values of tensor <paramref name="key"/> (row-major, float32) of shape <paramref name="shape"/>.</summary>
    float[] Get(string key, ParamKind kind, long[] shape);

    /// <summary>The epsilon of the BatchNorm whose tensors start with <paramref name="bnPrefix"/> (e.g. "blocks.3.bn1").</summary>
    double BnEps(string bnPrefix);
}

/// <summary>Tensors of a TorchSharp <see cref="ConvNet"/> (its state_dict, read once).</summary>
public sealed class ConvNetWeights : IWeightSource
{
    private readonly Dictionary<string, (long[] Shape, float[] Data)> _tensors = new();
    private readonly Dictionary<string, double> _eps = new();

    public ConvNetWeights(nn.Module net)
    {
        using var _ = no_grad();
        foreach (var (key, t) in net.state_dict())
        {
            if (t.dtype == ScalarType.Int64) continue; // num_batches_tracked
            using var c = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
            _tensors[key] = (c.shape.ToArray(), c.data<float>().ToArray());
        }
        foreach (var (name, m) in net.named_modules())
            if (m is NormBase bn) _eps[name] = bn.eps;
    }

    public float[] Get(string key, ParamKind kind, long[] shape)
    {
        if (!_tensors.TryGetValue(key, out var t))
            throw new TailorException($"weights: missing tensor '{key}' needed by the architecture");
        if (!t.Shape.SequenceEqual(shape))
            throw new TailorException($"weights: tensor '{key}' has shape [{string.Join(",", t.Shape)}] but the architecture needs [{string.Join(",", shape)}]");
        return t.Data;
    }

    public double BnEps(string bnPrefix) =>
        _eps.TryGetValue(bnPrefix, out var e) ? e : throw new TailorException($"weights: missing BatchNorm '{bnPrefix}'");
}

/// <summary>
/// Deterministic random tensors initialised like <see cref="Layers.Initialize"/> ("torch" init:
/// kaiming-normal fan-out convs, normal(0, 0.01) classifier, BN at identity statistics), without
/// libtorch. Each tensor depends only on (seed, key), so a segment of a network gets the same
/// weights as the whole network. For latency measurement of architectures that were never trained.
/// </summary>
public sealed class RandomWeights(int seed, double bnEps = 1e-5) : IWeightSource
{
    public float[] Get(string key, ParamKind kind, long[] shape)
    {
        long n = shape.Aggregate(1L, (p, d) => p * d);
        var a = new float[n];
        switch (kind)
        {
            case ParamKind.ConvWeight:
            {
                double fanOut = shape[0] * (shape.Length == 4 ? shape[2] * shape[3] : 1);
                Normal(a, Math.Sqrt(2.0 / fanOut), key);
                break;
            }
            case ParamKind.FcWeight: Normal(a, 0.01, key); break;
            case ParamKind.BnWeight: case ParamKind.BnVar: Array.Fill(a, 1f); break;
            default: break; // biases, BN beta and mean: zero
        }
        return a;
    }

    public double BnEps(string bnPrefix) => bnEps;

    void Normal(float[] a, double std, string key)
    {
        var rng = new Random(unchecked(seed * 16777619 ^ (int)Fnv(key)));
        for (int i = 0; i < a.Length; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2 * Math.Log(u1)) * std;
            a[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < a.Length) a[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
        }
    }

    static uint Fnv(string s)
    {
        uint h = 2166136261;
        foreach (char c in s) { h ^= c; h *= 16777619; }
        return h;
    }
}
