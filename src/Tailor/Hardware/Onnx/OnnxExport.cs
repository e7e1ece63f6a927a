using MemoryMarshal = System.Runtime.InteropServices.MemoryMarshal;
using Google.Protobuf;
using Tailor.Arch;
using Tailor.Hardware.Onnx.Proto;
using Tailor.Models;
using Tailor.Util;

namespace Tailor.Hardware.Onnx;

public sealed record OnnxExportOptions
{
    /// <summary>ONNX opset of the default domain (13..17). At 13, hswish is HardSigmoid + Mul; from 14, HardSwish.</summary>
    public int Opset { get; init; } = OnnxExport.DefaultOpset;
    /// <summary>Symbolic batch dimension "N" (any batch at run time); false fixes it to <see cref="Batch"/>.</summary>
    public bool DynamicBatch { get; init; } = true;
    public int Batch { get; init; } = 1;
    public static OnnxExportOptions Default { get; } = new();
}

/// <summary>
/// Inference-mode ONNX export of IR networks (TorchSharp cannot export ONNX). BatchNorm is folded
/// into the preceding convolution (w' = w*gamma/sqrt(var+eps), b' = beta - mean*gamma/sqrt(var+eps)),
/// dropout disappears. Nodes and tensors are named after the state_dict paths (blocks.3.conv_dw, ...).
/// Input "input" [N,C,H,W] float32, output "logits" [N,classes].
/// </summary>
public static class OnnxExport
{
    public const int MinOpset = 13, MaxOpset = 17, DefaultOpset = 14;
    /// <summary>ONNX IR version 8 (ONNX 1.10+), which covers opsets up to 17.</summary>
    public const long IrVersion = 8;

    /// <summary>Export of a TorchSharp network with its weights (running BN statistics, i.e. eval mode).</summary>
    public static ModelProto FromConvNet(ConvNet net, OnnxExportOptions? o = null) =>
        Build(net.Arch, new ConvNetWeights(net), o);

    /// <summary>Export of an architecture with deterministic random weights (latency measurement of untrained networks).</summary>
    public static ModelProto FromArchitecture(Architecture arch, int seed = 0, OnnxExportOptions? o = null) =>
        Build(arch, new RandomWeights(seed), o);

    /// <summary>The whole network.</summary>
    public static ModelProto Build(Architecture arch, IWeightSource weights, OnnxExportOptions? o = null)
    {
        var an = ArchAnalysis.Analyze(arch);
        return BuildSegment(arch, an, 0, an.Layers.Count, weights, o);
    }

    /// <summary>
    /// A contiguous segment of the network: analysis rows [<paramref name="from"/>, <paramref name="to"/>)
    /// (the last row, "head.fc", is pool + flatten + FC). Input is the first row's input shape, output the last row's output.
    /// Used to time one block in its real context (input size, channels, stride) for latency tables.
    /// </summary>
    public static ModelProto BuildSegment(Architecture arch, ArchAnalysis an, int from, int to, IWeightSource weights, OnnxExportOptions? o = null)
    {
        o ??= OnnxExportOptions.Default;
        if (o.Opset < MinOpset || o.Opset > MaxOpset)
            throw new TailorException($"onnx export: opset {o.Opset} is not supported; Tailor exports opsets {MinOpset}..{MaxOpset}");
        if (!o.DynamicBatch && o.Batch < 1) throw new TailorException($"onnx export: batch must be >= 1 (got {o.Batch})");
        if (from < 0 || to > an.Layers.Count || from >= to) throw new ArgumentOutOfRangeException(nameof(from));
        CheckSupported(arch);
        var w = new GraphWriter(o, weights);
        var first = an.Layers[from];
        string x = "input";
        w.Input(x, first.InChannels, first.InH, first.InW);
        LayerInfo last = first;
        for (int i = from; i < to; i++)
        {
            var l = an.Layers[i];
            x = l.Block == null ? w.Classifier(x, l, arch.Classes) : w.Block(x, l);
            last = l;
        }
        if (x == "input") x = w.Identity(x, "identity");
        bool logits = last.Block == null;
        string outName = logits ? "logits" : "output";
        w.RenameLast(x, outName);
        if (logits) w.Output(outName, arch.Classes);
        else w.Output(outName, last.OutChannels, last.OutH, last.OutW);

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "tailor",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0",
            Graph = w.Graph,
            DocString = $"{arch.Name} @ {arch.Input}, {arch.Classes} classes (inference: BN folded into convs)",
        };
        w.Graph.Name = from == 0 && to == an.Layers.Count ? arch.Name : $"{arch.Name}[{an.Layers[from].Path}..{last.Path}]";
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = o.Opset });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "tailor.arch", Value = ArchJson.Write(arch) });
        return model;
    }

    /// <summary>Throws a one-line <see cref="TailorException"/> for any construct the exporter cannot write.</summary>
    public static void CheckSupported(Architecture arch)
    {
        foreach (var (path, b) in arch.AllBlocks())
        {
            if (!Enum.IsDefined(b.Kind))
                throw new TailorException($"onnx export: $.{path}: block kind {(int)b.Kind} has no ONNX export");
            if (!Enum.IsDefined(b.Act))
                throw new TailorException($"onnx export: $.{path}: activation {(int)b.Act} has no ONNX export");
            if (b.Se is { } se && (!Enum.IsDefined(se.Act) || !Enum.IsDefined(se.Gate)))
                throw new TailorException($"onnx export: $.{path}.se: activation has no ONNX export");
            if (b.Kind == BlockKind.ConvBnAct && b.Padding is int p && p < 0)
                throw new TailorException($"onnx export: $.{path}: negative padding {p} has no ONNX export");
        }
    }

    public static byte[] ToBytes(ModelProto m) => m.ToByteArray();

    /// <summary>Writes the model atomically (temp file + rename): a reader never sees half a model.</summary>
    public static void Save(ModelProto m, string path) => AtomicFile.Write(path, s => m.WriteTo(s));

    /// <summary>Reads a model written by <see cref="Save"/> (or any ONNX file, fields outside the subset are skipped).</summary>
    public static ModelProto Load(string path)
    {
        if (!File.Exists(path)) throw new TailorException($"{path}: file not found");
        try { return ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)); }
        catch (InvalidProtocolBufferException e) { throw new TailorException($"{path}: not an ONNX model ({e.Message})"); }
    }

    /// <summary>"stem[0]" -> "stem.0", "head.convs[1]" -> "head.1" (the ConvNet state_dict prefix).</summary>
    public static string KeyPrefix(string path)
    {
        if (path.StartsWith("head.convs[", StringComparison.Ordinal)) return "head." + path["head.convs[".Length..^1];
        int b = path.IndexOf('[');
        return b < 0 ? path : path[..b] + "." + path[(b + 1)..^1];
    }

    sealed class GraphWriter(OnnxExportOptions o, IWeightSource weights)
    {
        public GraphProto Graph { get; } = new();
        readonly HashSet<string> _consts = new();

        TensorShapeProto Shape(params long[] dims)
        {
            var s = new TensorShapeProto();
            s.Dim.Add(o.DynamicBatch ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = o.Batch });
            foreach (var d in dims) s.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            return s;
        }

        ValueInfoProto Value(string name, params long[] dims) => new()
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = Shape(dims) } },
        };

        public void Input(string name, long c, long h, long w) => Graph.Input.Add(Value(name, c, h, w));
        public void Output(string name, params long[] dims) => Graph.Output.Add(Value(name, dims));

        /// <summary>Renames the final tensor (the last node's output) to the graph output name.</summary>
        public void RenameLast(string tensor, string name)
        {
            var n = Graph.Node[^1];
            int i = n.Output.IndexOf(tensor);
            if (i < 0) throw new InvalidOperationException($"last node does not produce {tensor}");
            n.Output[i] = name;
        }

        static NodeProto Node(string op, string name, string[] inputs, string output, params AttributeProto[] attrs)
        {
            var n = new NodeProto { OpType = op, Name = name };
            n.Input.Add(inputs);
            n.Output.Add(output);
            n.Attribute.Add(attrs);
            return n;
        }

        static AttributeProto Ints(string name, params long[] v)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.Add(v);
            return a;
        }

        static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };
        static AttributeProto Float(string name, float v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };

        string Add(string op, string name, params string[] inputs) => AddA(op, name, inputs);

        string AddA(string op, string name, string[] inputs, params AttributeProto[] attrs)
        {
            Graph.Node.Add(Node(op, name, inputs, name, attrs));
            return name;
        }

        void Initializer(string name, long[] dims, float[] data)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan())) };
            t.Dims.Add(dims);
            Graph.Initializer.Add(t);
        }

        void InitializerI64(string name, long[] data)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan())) };
            t.Dims.Add(data.Length);
            Graph.Initializer.Add(t);
        }

        string ScalarConst(string name, float v)
        {
            if (_consts.Add(name)) Initializer(name, Array.Empty<long>(), new[] { v });
            return name;
        }

        public string Identity(string x, string name) => Add("Identity", name, x);

        /// <summary>Conv with BN folded in (or a plain conv with its own bias when <paramref name="bn"/> is null).</summary>
        string Conv(string x, string prefix, string conv, string? bn, long cin, long cout, long k, long stride, long pad, long groups, bool bias = false)
        {
            string wKey = $"{prefix}.{conv}.weight";
            var shape = new[] { cout, cin / groups, k, k };
            var w = weights.Get(wKey, ParamKind.ConvWeight, shape);
            var b = bias ? weights.Get($"{prefix}.{conv}.bias", ParamKind.ConvBias, new[] { cout }) : new float[cout];
            float[] wf = w, bf = b;
            if (bn != null)
            {
                string bp = $"{prefix}.{bn}";
                var gamma = weights.Get(bp + ".weight", ParamKind.BnWeight, new[] { cout });
                var beta = weights.Get(bp + ".bias", ParamKind.BnBias, new[] { cout });
                var mean = weights.Get(bp + ".running_mean", ParamKind.BnMean, new[] { cout });
                var var_ = weights.Get(bp + ".running_var", ParamKind.BnVar, new[] { cout });
                double eps = weights.BnEps(bp);
                wf = new float[w.Length];
                bf = new float[cout];
                long per = w.Length / cout;
                for (int c = 0; c < cout; c++)
                {
                    double scale = gamma[c] / Math.Sqrt(var_[c] + eps);
                    for (long j = 0; j < per; j++) wf[c * per + j] = (float)(w[c * per + j] * scale);
                    bf[c] = (float)(beta[c] + (b[c] - mean[c]) * scale);
                }
            }
            string name = $"{prefix}.{conv}";
            Initializer(name + ".weight", shape, wf);
            Initializer(name + ".bias", new[] { cout }, bf);
            return AddA("Conv", name, new[] { x, name + ".weight", name + ".bias" },
                Ints("kernel_shape", k, k), Ints("strides", stride, stride), Ints("pads", pad, pad, pad, pad),
                Ints("dilations", 1, 1), Int("group", groups));
        }

        string Act(string x, Activation a, string name)
        {
            switch (a)
            {
                case Activation.None: return x;
                case Activation.Relu: return Add("Relu", name, x);
                case Activation.Relu6: return Add("Clip", name, x, ScalarConst("const.zero", 0f), ScalarConst("const.six", 6f));
                case Activation.Sigmoid: return Add("Sigmoid", name, x);
                case Activation.Swish: return Add("Mul", name, x, Add("Sigmoid", name + ".sigmoid", x));
                case Activation.HSigmoid: return AddA("HardSigmoid", name, new[] { x }, Float("alpha", 1f / 6), Float("beta", 0.5f));
                case Activation.HSwish:
                    if (o.Opset >= 14) return Add("HardSwish", name, x);
                    return Add("Mul", name, x, AddA("HardSigmoid", name + ".hsigmoid", new[] { x }, Float("alpha", 1f / 6), Float("beta", 0.5f)));
                default: throw new TailorException($"onnx export: {name}: activation {(int)a} has no ONNX export");
            }
        }

        public string Block(string x, LayerInfo l)
        {
            var b = l.Block!;
            string p = KeyPrefix(l.Path);
            switch (b.Kind)
            {
                case BlockKind.ConvBnAct:
                {
                    long pad = b.Padding ?? b.Kernel / 2;
                    var h = Conv(x, p, "conv", "bn", l.InChannels, l.OutChannels, b.Kernel, b.Stride, pad, b.Groups);
                    return Act(h, b.Act, p + ".act");
                }
                case BlockKind.Skip:
                    if (l.Params == 0) return x; // identity
                    return Act(Conv(x, p, "conv", "bn", l.InChannels, l.OutChannels, 1, b.Stride, 0, 1), b.Act, p + ".act");
                case BlockKind.MBConv:
                {
                    string h = x;
                    long mid = l.Mid;
                    if (b.HasExpand) h = Act(Conv(h, p, "conv_pw", "bn1", l.InChannels, mid, 1, 1, 0, b.Groups), b.Act, p + ".act1");
                    if (b.Shuffle && b.Groups > 1) h = Shuffle(h, p + ".shuffle", b.Groups, mid, l.InH, l.InW);
                    h = Act(Conv(h, p, "conv_dw", "bn2", mid, mid, b.Kernel, b.Stride, b.Kernel / 2, mid), b.Act, p + ".act2");
                    if (b.Se is { } se)
                    {
                        string sp = p + ".se";
                        string s = Add("GlobalAveragePool", sp + ".pool", h);
                        s = Act(Conv(s, sp, "conv_reduce", null, mid, l.SeReduced, 1, 1, 0, 1, bias: true), se.Act, sp + ".act");
                        s = Act(Conv(s, sp, "conv_expand", null, l.SeReduced, mid, 1, 1, 0, 1, bias: true), se.Gate, sp + ".gate");
                        h = Add("Mul", sp + ".scale", h, s);
                    }
                    h = Conv(h, p, "conv_pwl", "bn3", mid, l.OutChannels, 1, 1, 0, b.Groups);
                    return l.Residual ? Add("Add", p + ".residual", h, x) : h;
                }
                default:
                    throw new TailorException($"onnx export: $.{l.Path}: block kind {(int)b.Kind} has no ONNX export");
            }
        }

        /// <summary>Channel shuffle: [N, g, C/g, H, W] -> transpose(1, 2) -> [N, C, H, W].</summary>
        string Shuffle(string x, string name, long groups, long c, long h, long w)
        {
            InitializerI64(name + ".shape5", new[] { 0, groups, c / groups, h, w });
            InitializerI64(name + ".shape4", new[] { 0, c, h, w });
            string r = Add("Reshape", name + ".split", x, name + ".shape5");
            string t = AddA("Transpose", name + ".transpose", new[] { r }, Ints("perm", 0, 2, 1, 3, 4));
            return Add("Reshape", name, t, name + ".shape4");
        }

        public string Classifier(string x, LayerInfo l, int classes)
        {
            string pooled = Add("GlobalAveragePool", "head.pool", x);
            string flat = AddA("Flatten", "head.flatten", new[] { pooled }, Int("axis", 1));
            long c = l.InChannels;
            var w = weights.Get("classifier.weight", ParamKind.FcWeight, new[] { (long)classes, c });
            var b = weights.Get("classifier.bias", ParamKind.FcBias, new[] { (long)classes });
            Initializer("classifier.weight", new[] { (long)classes, c }, w);
            Initializer("classifier.bias", new[] { (long)classes }, b);
            return AddA("Gemm", "classifier", new[] { flat, "classifier.weight", "classifier.bias" },
                Float("alpha", 1f), Float("beta", 1f), Int("transB", 1));
        }
    }
}
