using Microsoft.ML.OnnxRuntime;
using Tailor.Arch;
using Tailor.Hardware.Onnx;
using Tailor.Hardware.Onnx.Proto;

namespace Tailor.Hardware.Latency;

/// <summary>ONNX Runtime's CPU execution provider: sequential execution, <see cref="Threads"/> intra-op threads, all graph optimisations.</summary>
public sealed class OrtCpuTarget(int threads = 1) : ILatencyTarget
{
    public string Kind => "ort-cpu";
    public int Threads { get; } = threads;
    public string Spec => $"ort-cpu:threads={Threads}";
    public string Runtime => $"onnxruntime {Version}";

    static readonly Lazy<string> _version = new(() => OrtEnv.Instance().GetVersionString());
    public static string Version => _version.Value;

    public SessionOptions Options()
    {
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = Threads,
            InterOpNumThreads = 1,
        };
        return so;
    }

    public ILatencyModel Prepare(Architecture arch, int batch = 1, int seed = 0) =>
        Load(OnnxExport.FromArchitecture(arch, seed, Fixed(batch)));

    public ILatencyModel PrepareSegment(Architecture arch, ArchAnalysis analysis, int from, int to, int batch = 1, int seed = 0) =>
        Load(OnnxExport.BuildSegment(arch, analysis, from, to, new RandomWeights(seed), Fixed(batch)));

    public ILatencyModel PrepareOverhead(int channels, int height, int width, int batch = 1)
    {
        var arch = new Architecture { Input = new InputShape(channels, height, width), Blocks = { Block.Skip(channels) } };
        return PrepareSegment(arch, ArchAnalysis.Analyze(arch), 0, 1, batch);
    }

    static OnnxExportOptions Fixed(int batch) => new() { DynamicBatch = false, Batch = batch };

    public ILatencyModel Load(ModelProto model) => new OrtModel(OnnxExport.ToBytes(model), Options()) { RunsOnCallingThread = Threads == 1 };

    /// <summary>
    /// Any ONNX file with one float input and one output, e.g. a model exported elsewhere: a free first
    /// (batch) dimension is set to <paramref name="batch"/>; every other input dimension must be fixed.
    /// Returns the model and its input shape; <paramref name="path"/> (where the bytes came from) names them in errors.
    /// </summary>
    public (ILatencyModel Model, long[] InputShape) LoadOnnx(byte[] bytes, string path, int batch)
    {
        long[] shape;
        string? freeBatch = null;
        try
        {
            using var probeOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
            using var probe = new InferenceSession(bytes, probeOptions);
            if (probe.InputMetadata.Count != 1 || probe.OutputMetadata.Count != 1)
                throw new TailorException($"{path}: {probe.InputMetadata.Count} inputs and {probe.OutputMetadata.Count} outputs; latency measurement needs one of each");
            var (name, meta) = probe.InputMetadata.Single();
            if (!meta.IsTensor || meta.ElementType != typeof(float))
                throw new TailorException($"{path}: input '{name}' is not a float tensor");
            var (outName, outMeta) = probe.OutputMetadata.Single();
            if (!outMeta.IsTensor || outMeta.ElementType != typeof(float))
                throw new TailorException($"{path}: output '{outName}' is not a float tensor");
            var dims = meta.Dimensions;
            if (dims.Length == 0) throw new TailorException($"{path}: input '{name}' is a scalar; expected a batch of tensors");
            for (int i = 1; i < dims.Length; i++)
                if (dims[i] < 1) throw new TailorException($"{path}: input '{name}' dimension {i} ('{meta.SymbolicDimensions[i]}') is not fixed; only the first (batch) dimension may be free");
            if (dims[0] < 1) freeBatch = meta.SymbolicDimensions[0];
            else if (dims[0] != batch) throw new TailorException($"{path}: the model's batch is fixed at {dims[0]}; pass --batch {dims[0]}");
            shape = dims.Select(d => (long)d).ToArray();
            shape[0] = batch;
        }
        catch (OnnxRuntimeException e)
        {
            throw new TailorException($"{path}: not a loadable ONNX model ({e.Message.Split('\n')[0].Trim()})");
        }
        var so = Options();
        if (!string.IsNullOrEmpty(freeBatch)) so.AddFreeDimensionOverrideByName(freeBatch, batch);
        return (new OrtModel(bytes, so, inputShape: shape) { RunsOnCallingThread = Threads == 1 }, shape);
    }

    /// <summary>A session with preallocated input (random, seeded) and output: Run() only runs the graph.</summary>
    public sealed class OrtModel : ILatencyModel
    {
        readonly InferenceSession _session;
        readonly RunOptions _run = new();
        readonly OrtValue _input, _output;
        readonly string[] _inNames, _outNames;
        readonly float[] _x;
        /// <summary>When &gt; 0, <see cref="BeforeRun"/> streams through this many bytes (evicting the model from the
        /// private caches, as the rest of a network would) and then reads the input again (hot, as if just produced).</summary>
        public int EvictBytes { get; set; }
        public bool RunsOnCallingThread { get; init; }
        static byte[] _evict = Array.Empty<byte>();
        public static long Sink;

        /// <param name="inputShape">The input's shape when the model leaves a dimension free (null: the model's own).</param>
        public OrtModel(byte[] model, SessionOptions options, int seed = 1, long[]? inputShape = null)
        {
            using (options) _session = new InferenceSession(model, options);
            var inMeta = _session.InputMetadata.Single();
            var outMeta = _session.OutputMetadata.Single();
            long[] inShape = inputShape ?? inMeta.Value.Dimensions.Select(d => (long)d).ToArray();
            long[] outShape = outMeta.Value.Dimensions.Select(d => (long)d).ToArray();
            if (inShape.Any(d => d < 1))
                throw new InvalidOperationException("latency models need a fixed batch (export with DynamicBatch = false)");
            var rng = new Random(seed);
            var x = new float[inShape.Aggregate(1L, (p, d) => p * d)];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            _x = x;
            _input = OrtValue.CreateTensorValueFromMemory(x, inShape);
            _inNames = new[] { inMeta.Key };
            _outNames = new[] { outMeta.Key };
            if (outShape.Any(d => d < 1))
            {
                // a free output dimension (a foreign model): one untimed run tells its shape, then the output is preallocated as usual
                using var outs = _session.Run(_run, _inNames, new[] { _input }, _outNames);
                outShape = outs[0].GetTensorTypeAndShape().Shape;
            }
            _output = OrtValue.CreateTensorValueFromMemory(new float[outShape.Aggregate(1L, (p, d) => p * d)], outShape);
        }

        public void Run() => _session.Run(_run, _inNames, new[] { _input }, _outNames, new[] { _output });

        public void BeforeRun()
        {
            if (EvictBytes <= 0) return;
            if (_evict.Length < EvictBytes) _evict = new byte[EvictBytes];
            var e = _evict;
            long sum = 0;
            for (int i = 0; i < EvictBytes; i += 64) sum += e[i];
            float acc = sum;
            for (int i = 0; i < _x.Length; i += 16) acc += _x[i];
            Sink += (long)acc;
        }

        public void Dispose()
        {
            _input.Dispose(); _output.Dispose(); _run.Dispose(); _session.Dispose();
        }
    }
}

/// <summary>Runs ONNX models once on given inputs (export checks; not for timing).</summary>
public static class OrtRunner
{
    /// <summary>Output of the single-output model on an input of the given shape.</summary>
    public static float[] Run(byte[] model, float[] input, long[] shape, int threads = 1, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        using var so = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var s = new InferenceSession(model, so);
        using var x = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var outs = s.Run(new RunOptions(), new[] { s.InputMetadata.Keys.Single() }, new[] { x }, new[] { s.OutputMetadata.Keys.Single() });
        return outs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
